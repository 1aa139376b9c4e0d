# Shared helpers to find or install PostgreSQL and run a private cluster. Sourced, not run.

# Puts the PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH, installing the Debian
# package when they are missing.
pg_ensure_binaries() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
        echo "PostgreSQL server not found; installing it from Debian" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    export PATH="$bin:$PATH"
}

# A free TCP port on the loopback interface.
pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the cluster's owner: PostgreSQL refuses to run as root.
pg_as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_start_cluster DATA_DIR PORT [extra postgres -c settings...]: initdb if needed, then start.
pg_start_cluster() {
    local data="$1" port="$2"
    shift 2
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$data"
    if [ "$(id -u)" = "0" ]; then chown postgres "$data"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        pg_as_owner initdb -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    local options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data"
    for setting in "$@"; do options="$options -c $setting"; done
    pg_as_owner pg_ctl -D "$data" -l "$data/server.log" -o "$options" -w -t 60 start >/dev/null
}

pg_stop_cluster() {
    local data="$1"
    if [ -f "$data/postmaster.pid" ]; then
        pg_as_owner pg_ctl -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
}
