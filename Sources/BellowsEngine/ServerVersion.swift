import PGClient

/// The PostgreSQL versions Bellows runs against. `scripts/test` runs the whole suite on each
/// tested major version; the versions between the oldest supported and the newest tested are
/// expected to work (same catalogs and statements); older servers are refused on connection.
public enum ServerVersion {
    /// The majors the test matrix runs on (scripts/test).
    public static let testedMajors = [15, 16, 18]
    /// The oldest major Bellows connects to. 14 is untested but shares 15's catalogs and
    /// statements; 13 and older are refused.
    public static let oldestSupportedMajor = 14

    /// `150010` → `"15.10"`, `90624` → `"9.6.24"` (libpq's `PQserverVersion` numbering).
    public static func describe(_ number: Int) -> String {
        number >= 100_000 ? "\(number / 10_000).\(number % 10_000)" : "\(number / 10_000).\(number / 100 % 100).\(number % 100)"
    }

    /// Why Bellows refuses a server of this version, or nil when it is supported.
    public static func refusal(serverVersion number: Int) -> String? {
        guard number / 10_000 < oldestSupportedMajor else { return nil }
        let tested = testedMajors.map(String.init).joined(separator: ", ")
        return "the server runs PostgreSQL \(describe(number)), which Bellows does not support: it needs PostgreSQL \(oldestSupportedMajor) or later (tested on \(tested))"
    }

    /// Throws a usage error when the connected server is older than Bellows supports.
    public static func requireSupported(_ connection: Connection) throws {
        if let message = refusal(serverVersion: connection.serverVersion) { throw BellowsError.usage(message) }
    }
}
