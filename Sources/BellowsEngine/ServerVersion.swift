import BellowsPlan
import Foundation
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

    /// Why `plan` cannot run on this server, before any change (gate `server-version`): the
    /// views of a table rename, of `strategy: views` and of `versioned_schemas` are
    /// `security_invoker`, so that whoever uses them gets the table's privileges and row
    /// security; PostgreSQL 15 added that option. On 14 expand failed at its `CREATE VIEW`
    /// with a bare syntax error (rolled back, nothing changed).
    public static func planFailures(_ plan: Plan, serverVersion number: Int) -> [GateFailure] {
        guard number < 150_000 else { return [] }
        var needs: [String] = []
        if let rename = plan.renameTableTo { needs.append("`rename_table_to: \(rename.value)` (a view under the new name)") }
        if plan.strategy == .views { needs.append("`strategy: views`") }
        else if plan.versionedSchemas { needs.append("`versioned_schemas: true`") }
        guard !needs.isEmpty else { return [] }
        return [GateFailure(
            gate: "server-version",
            message: "plan \(plan.id) uses \(needs.joined(separator: " and ")): its views are security_invoker, so that the table's privileges "
                + "and row security apply to whoever uses them, which needs PostgreSQL 15 or later (this server runs \(describe(number)))",
            remedy: "upgrade to PostgreSQL 15 or later, or make the change with a migration in a window the application allows")]
    }

    /// A version as given to `--server-version`: `18` for `180000`, else as `describe`.
    public static func given(_ number: Int) -> String {
        number % 10_000 == 0 && number >= 100_000 ? "\(number / 10_000)" : describe(number)
    }

    /// The version `bellows render` renders for when not told: the oldest supported.
    public static var renderDefault: Int { oldestSupportedMajor * 10_000 }

    /// A version as a user writes it, `18`, `18.6`, `9.6` or `180006`, as a `server_version_num`;
    /// nil when it is none of these.
    public static func parse(_ text: String) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.count <= 2, parts.allSatisfy({ ($0 ?? -1) >= 0 }), let major = parts[0] else { return nil }
        if parts.count == 2, let minor = parts[1] {
            return major >= 10 ? (minor < 10_000 ? major * 10_000 + minor : nil) : (minor < 100 ? major * 10_000 + minor * 100 : nil)
        }
        if major >= 10_000 { return major }
        return major >= 10 ? major * 10_000 : nil
    }

    /// Throws a usage error when the connected server is older than Bellows supports.
    public static func requireSupported(_ connection: Connection) throws {
        if let message = refusal(serverVersion: connection.serverVersion) { throw BellowsError.usage(message) }
    }
}
