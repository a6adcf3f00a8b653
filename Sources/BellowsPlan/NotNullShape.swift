/// How a transition makes a column NOT NULL without scanning the table under an ACCESS
/// EXCLUSIVE lock. Expand picks it from the server's version and records it with the plan's
/// state; every later phase uses the recorded one (a server upgraded mid-transition keeps the
/// shape its constraint was created in).
public enum NotNullShape: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every version: expand adds `CHECK (col IS NOT NULL) NOT VALID`, verify validates it,
    /// contract runs `SET NOT NULL` (proved by the validated check, no scan) and drops the check.
    case check
    /// PostgreSQL 18+: expand adds `CONSTRAINT … NOT NULL col NOT VALID`, verify validates it
    /// (SHARE UPDATE EXCLUSIVE, as a CHECK), contract only renames it to the name PostgreSQL
    /// gives a NOT NULL constraint (`<table>_<column>_not_null`).
    case notNull = "not_null"

    /// The first server version (`server_version_num`) with NOT VALID NOT NULL constraints.
    public static let firstNotNullConstraintVersion = 180_000

    /// The shape expand uses on a server of this version (`server_version_num`).
    public static func preferred(serverVersion: Int) -> NotNullShape {
        serverVersion >= firstNotNullConstraintVersion ? .notNull : .check
    }

    /// The shape of a plan's state row (`nil`: expanded before the shape was recorded, so a CHECK).
    public init(recorded: String?) {
        self = recorded.flatMap(NotNullShape.init(rawValue:)) ?? .check
    }
}

extension TransitionNames {
    /// The name PostgreSQL gives a constraint of `table` on `column` with `label` (its
    /// `makeObjectName`): `<table>_<column>_<label>`, the longer of the two names shortened first,
    /// byte by byte and never inside a character, until the whole fits in 63 bytes.
    public static func postgresDefault(table: String, column: String, label: String) -> String {
        let available = maximumIdentifierBytes - label.utf8.count - 2
        var tableBytes = table.utf8.count, columnBytes = column.utf8.count
        while tableBytes + columnBytes > available {
            if tableBytes > columnBytes { tableBytes -= 1 } else { columnBytes -= 1 }
        }
        return truncated(table, toBytes: tableBytes) + "_" + truncated(column, toBytes: columnBytes) + "_" + label
    }

    /// PostgreSQL 18's name for the NOT NULL constraint of `column`.
    public static func notNullConstraint(table: String, column: String) -> String {
        postgresDefault(table: table, column: column, label: "not_null")
    }
}
