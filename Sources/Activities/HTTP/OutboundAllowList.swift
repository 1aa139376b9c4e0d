#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOPosix
import Orchestrator

/// Where the `http` activity may connect, from `ORCHESTRATOR_HTTP_ALLOW`: a comma-separated list
/// of host names (`api.example.com`, or `*.example.com` for its subdomains), addresses and CIDR
/// ranges (`10.1.2.3`, `10.0.0.0/8`, `fd00::/8`).
///
/// - Host names, when any are listed, are the only hosts a URL may name; with none, any host.
/// - Every address the host resolves to must be public, or inside a listed address or range:
///   loopback, private, link-local and the other non-public ranges are refused unless listed.
///   The check runs after DNS resolution, on what the name really points to.
public struct OutboundAllowList: Sendable, Hashable {
    let names: [String]
    let ranges: [IPAddressRange]

    /// No names, no ranges: any host whose addresses are all public.
    public static let publicInternet = OutboundAllowList(names: [], ranges: [])

    init(names: [String], ranges: [IPAddressRange]) {
        self.names = names
        self.ranges = ranges
    }

    /// Parses the setting; throws with the entry it cannot read.
    public init(parsing text: String) throws {
        var names: [String] = []
        var ranges: [IPAddressRange] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !entry.isEmpty {
            if let range = IPAddressRange(entry) {
                ranges.append(range)
            } else if Self.isHostPattern(entry) {
                names.append(entry)
            } else {
                throw OrchestratorError(.configuration, "ORCHESTRATOR_HTTP_ALLOW: '\(entry)' is neither a host name, *.domain, an address nor a CIDR range")
            }
        }
        self.init(names: names, ranges: ranges)
    }

    private static func isHostPattern(_ entry: String) -> Bool {
        let name = entry.hasPrefix("*.") ? String(entry.dropFirst(2)) : entry
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            (1...63).contains(label.count) && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// Whether a URL may name `host` (before resolution).
    func permits(host: String) -> Bool {
        guard !names.isEmpty else { return true }
        let host = host.lowercased().hasSuffix(".") ? String(host.lowercased().dropLast()) : host.lowercased()
        return names.contains { name in
            name.hasPrefix("*.") ? host.hasSuffix(name.dropFirst(1)) : host == name
        }
    }

    /// Whether the activity may connect to `address` (4 or 16 bytes).
    func permits(address: [UInt8]) -> Bool {
        ranges.contains { $0.contains(address) } || !IPAddressRange.nonPublic.contains { $0.contains(address) }
    }

    /// The addresses of `host` if it and all of them are allowed; throws `http.forbidden_host` otherwise
    /// (and `http.unreachable` when the name does not resolve).
    func resolve(host: String, port: Int) async throws -> [[UInt8]] {
        guard permits(host: host) else {
            throw ActivityError.nonRetryable("http.forbidden_host", "\(host) is not in ORCHESTRATOR_HTTP_ALLOW")
        }
        let addresses = try await Self.addresses(of: host, port: port)
        guard !addresses.isEmpty else { throw ActivityError(code: "http.unreachable", message: "could not reach \(host):\(port)") }
        if let refused = addresses.first(where: { !permits(address: $0) }) {
            throw ActivityError.nonRetryable(
                "http.forbidden_host", "\(host) resolves to \(IPAddressRange.text(refused)), which is not public; list it in ORCHESTRATOR_HTTP_ALLOW to allow it")
        }
        return addresses
    }

    /// `getaddrinfo` on NIO's thread pool (it blocks): every address of `host`.
    static func addresses(of host: String, port: Int) async throws -> [[UInt8]] {
        let host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [[UInt8]] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor?.pointee {
                if info.ai_family == AF_INET, let raw = info.ai_addr {
                    raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        var address = pointer.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                    }
                } else if info.ai_family == AF_INET6, let raw = info.ai_addr {
                    raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        var address = pointer.pointee.sin6_addr
                        addresses.append(IPAddressRange.unmapped(withUnsafeBytes(of: &address) { Array($0) }))
                    }
                }
                cursor = info.ai_next
            }
            return addresses
        }
    }
}
