import PGClient

/// How many more connections this session's login role may open now: the least of what its
/// `CONNECTION LIMIT`, the database's and the server's `max_connections` leave (superusers are
/// held to the server's only). The backfill opens its helper sessions within it and keeps some
/// back: a release manager's `bellows pause` or `status` as the same role must still connect
/// (hostile-l 05: four helpers took a limit of three, and `pause` could not connect).
struct ConnectionRoom: Sendable, Hashable {
    /// Connections left under one limit: `role`, `database` or `server`.
    struct Left: Sendable, Hashable {
        var limit: String
        var count: Int
    }

    /// Connections left, per limit that applies.
    var left: [Left]

    /// The limit that leaves the fewest connections.
    var tightest: Left? { left.min { $0.count < $1.count } }

    /// How many of `wanted` sessions to open, keeping `keep` connections free.
    func sessions(wanted: Int, keep: Int) -> Int {
        guard let tightest else { return wanted }
        return max(0, min(wanted, tightest.count - keep))
    }

    /// Words for the limit that leaves the fewest connections, for a warning.
    var described: String {
        guard let tightest else { return "" }
        let what = switch tightest.limit {
        case "role": "the role's CONNECTION LIMIT"
        case "database": "the database's CONNECTION LIMIT"
        default: "the server's max_connections"
        }
        return "\(what) leaves \(tightest.count) connection\(tightest.count == 1 ? "" : "s")"
    }

    /// Reads the room from `pg_stat_activity` (its `usesysid` and `datname` are visible to every role).
    static func read(_ connection: Connection) throws -> ConnectionRoom {
        guard let row = try connection.query("""
            SELECT CASE WHEN r.rolconnlimit >= 0 AND NOT r.rolsuper
                        THEN r.rolconnlimit - (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid AND a.backend_type = 'client backend') END AS role_left,
                   CASE WHEN d.datconnlimit >= 0 AND NOT r.rolsuper
                        THEN d.datconnlimit - (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND a.backend_type = 'client backend') END AS database_left,
                   current_setting('max_connections')::int - CASE WHEN r.rolsuper THEN 0 ELSE current_setting('superuser_reserved_connections')::int END
                       - (SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type = 'client backend')::int AS server_left
            FROM pg_roles r, pg_database d WHERE r.rolname = session_user AND d.datname = current_database()
            """).first else { return ConnectionRoom(left: []) }
        var left: [Left] = []
        if let role = try row.optionalInt("role_left") { left.append(Left(limit: "role", count: role)) }
        if let database = try row.optionalInt("database_left") { left.append(Left(limit: "database", count: database)) }
        if let server = try row.optionalInt("server_left") { left.append(Left(limit: "server", count: server)) }
        return ConnectionRoom(left: left)
    }
}
