import Foundation
import HTTPTypes
import NIOCore
import VaultCore

/// The client address used for throttling. A request's peer is the client, unless the peer is a trusted reverse
/// proxy (`serve --trusted-proxy`): then the client is the right-most entry of `X-Forwarded-For` that is not itself
/// a trusted proxy. `X-Forwarded-For` from any other peer is ignored, so a client cannot choose its own address.
/// The entry `unix` trusts a proxy on this host that connects through `serve --unix` (without it, every client
/// of such a proxy shares one throttle address).
public struct ClientAddressResolver: Sendable {
    public static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// The `--trusted-proxy` entry that trusts the Unix-domain socket's peer.
    public static let unixSocket = "unix"
    private let trusted: Set<String>

    /// No trusted proxies: the peer is always the client.
    public init() { trusted = [] }

    /// - Throws: `VaultError.invalidRequest` naming an entry that is not an IP address.
    public init(trustedProxies: [String]) throws {
        trusted = Set(
            try trustedProxies.map { entry in
                if entry == Self.unixSocket { return entry }
                guard let canonical = Self.canonical(entry) else {
                    throw VaultError(
                        .invalidRequest,
                        "trusted proxy \(entry) is not an IP address (e.g. 127.0.0.1 or ::1) or `unix` (a proxy on the Unix socket)"
                    )
                }
                return canonical
            })
    }

    /// The client address for a request from `peer` (an IP address, or nil for a Unix socket or a test client)
    /// carrying these `X-Forwarded-For` values.
    public func resolve(peer: String?, forwardedFor: [String]) -> String {
        let canonicalPeer: String
        if let peer {
            guard let canonical = Self.canonical(peer) else { return peer }
            guard trusted.contains(canonical) else { return canonical }
            canonicalPeer = canonical
        } else {
            // A Unix-socket peer (or a test client): a proxy on this host only when `unix` is trusted.
            guard trusted.contains(Self.unixSocket) else { return "unknown" }
            canonicalPeer = Self.unixSocket
        }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        for hop in hops.reversed() {
            // A hop the trusted proxy wrote that is not an address: fall back to the proxy (all share one throttle).
            guard let address = Self.canonical(hop) else { return canonicalPeer }
            if !trusted.contains(address) { return address }
        }
        return canonicalPeer
    }

    /// Whether a request from `peer` (nil for a Unix socket) comes through a trusted proxy, whose `X-Forwarded-*`
    /// headers (e.g. `X-Forwarded-Proto`) may then be believed.
    public func isTrustedProxy(peer: String?) -> Bool {
        guard let peer else { return trusted.contains(Self.unixSocket) }
        return Self.canonical(peer).map(trusted.contains) ?? false
    }

    /// The canonical text of an IP address (so `::1` and `0:0::1` are one), or nil when it is not one.
    static func canonical(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 64, !text.contains("%") else { return nil }
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        return (try? SocketAddress(ipAddress: bare, port: 0))?.ipAddress
    }
}
