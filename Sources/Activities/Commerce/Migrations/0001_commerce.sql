-- The shop's data, beside the engine's: stock, reservations, orders and their payments, refunds,
-- the restock waitlist and the Stripe events already handled. Amounts are integers in the
-- currency's minor unit (cents), as Stripe counts them.

CREATE TABLE commerce.inventory (
    sku        text        PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 100),
    on_hand    integer     NOT NULL CHECK (on_hand >= 0),
    reserved   integer     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (reserved <= on_hand)
);

-- Moved by: `inventory.reserve` (→ held), `inventory.commit` (held → committed),
-- `inventory.release` (held → released | expired).
CREATE TABLE commerce.reservations (
    id         text        PRIMARY KEY,
    order_id   text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired')),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_order ON commerce.reservations (order_id);

CREATE TABLE commerce.reservation_lines (
    reservation_id text    NOT NULL REFERENCES commerce.reservations (id),
    sku            text    NOT NULL REFERENCES commerce.inventory (sku),
    quantity       integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);

-- Moved by the checkout workflow: pending → awaiting_payment → authorized → paid, or → failed | cancelled.
CREATE TABLE commerce.orders (
    id                    text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
    workflow_id           text        NOT NULL,
    customer_email        text        NOT NULL,
    customer_phone        text,
    currency              text        NOT NULL,
    amount                bigint      NOT NULL CHECK (amount > 0),
    status                text        NOT NULL CHECK (status IN ('pending', 'awaiting_payment', 'authorized', 'paid', 'failed', 'cancelled')),
    failure_reason        text,
    payment_intent_id     text,
    charge_id             text,
    authorized_amount     bigint      NOT NULL DEFAULT 0,
    captured_amount       bigint      NOT NULL DEFAULT 0,
    refunded_amount       bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount <= captured_amount),
    payment_attempts      integer     NOT NULL DEFAULT 0,
    declines              integer     NOT NULL DEFAULT 0,
    retry_window_ends_at  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orders_payment_intent ON commerce.orders (payment_intent_id);

CREATE TABLE commerce.order_lines (
    order_id    text    NOT NULL REFERENCES commerce.orders (id),
    line        integer NOT NULL,
    sku         text    NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_amount bigint  NOT NULL CHECK (unit_amount >= 0),
    PRIMARY KEY (order_id, line)
);

-- A refund is recorded (`requested`) under the order's row lock before Stripe is called, so
-- concurrent refunds never promise more than was captured; `succeeded` once Stripe answered.
CREATE TABLE commerce.refunds (
    id               text        PRIMARY KEY,
    order_id         text        NOT NULL REFERENCES commerce.orders (id),
    amount           bigint      NOT NULL CHECK (amount > 0),
    reason           text        NOT NULL,
    requested_by     text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('requested', 'succeeded', 'failed')),
    stripe_refund_id text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order ON commerce.refunds (order_id);

-- Who wants to hear when a SKU is back; a row leaves the list (notified_at set) once told.
CREATE TABLE commerce.waitlist (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text        NOT NULL CHECK (length(sku) BETWEEN 1 AND 100),
    channel     text        NOT NULL CHECK (channel IN ('email', 'sms')),
    address     text        NOT NULL CHECK (length(address) BETWEEN 3 AND 320),
    created_at  timestamptz NOT NULL DEFAULT now(),
    notified_at timestamptz,
    UNIQUE (sku, channel, address)
);
CREATE INDEX waitlist_waiting ON commerce.waitlist (sku, id) WHERE notified_at IS NULL;

-- Stripe events already handled: a replayed event id delivers nothing.
CREATE TABLE commerce.stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    verdict     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
