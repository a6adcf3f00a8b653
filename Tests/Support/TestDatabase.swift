import Foundation
import PGClient

/// Scratch databases for tests that need a real PostgreSQL.
///
/// The server comes from the `PG*` environment (`scripts/test` runs the suite inside
/// `pg_virtualenv`, which sets it). A test that needs the database fails loudly when there is
/// none, unless `BELLOWS_SKIP_DB_TESTS=1` is set, which skips them all explicitly.
public enum TestDatabase {
    public static var skipped: Bool { ProcessInfo.processInfo.environment["BELLOWS_SKIP_DB_TESTS"] == "1" }
    public static var enabled: Bool { !skipped }

    /// A fresh, empty database; drop it with `drop()`.
    public static func create(_ label: String = "t") throws -> ScratchDatabase {
        let admin = try Connection(adminConninfo)
        defer { admin.close() }
        let safe = label.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "_" }.prefix(20)
        let name = "bellows_\(safe)_\(UInt32.random(in: 0...UInt32.max))"
        try admin.execute("CREATE DATABASE \(Connection.quoteIdentifier(name)) TEMPLATE template0")
        return ScratchDatabase(name: name)
    }

    /// Connection settings for the maintenance database; everything else from the environment.
    static var adminConninfo: String {
        let env = ProcessInfo.processInfo.environment
        return "dbname=\(env["BELLOWS_TEST_ADMIN_DB"] ?? "postgres")"
    }
}

public struct ScratchDatabase: Sendable {
    public let name: String

    /// A conninfo string for this database (host, port, user from the environment).
    public var conninfo: String { "dbname=\(name)" }

    public func connect() throws -> Connection { try Connection(conninfo) }

    public func drop() {
        guard let admin = try? Connection(TestDatabase.adminConninfo) else { return }
        defer { admin.close() }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(Connection.quoteIdentifier(name)) WITH (FORCE)")
    }
}
