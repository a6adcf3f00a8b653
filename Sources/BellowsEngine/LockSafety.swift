import BellowsSQL
import BellowsPlan
import Foundation
import PGClient

/// A session holding a lock on the table Bellows waits for.
public struct Blocker: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pid: Int
    public var user: String?
    public var application: String?
    public var state: String?
    public var query: String?
    public var transactionAgeSeconds: Double?
    public var lockMode: String
    /// A prepared transaction (two-phase commit) holds the lock: it has no session (`pid` is
    /// 0, `user` is its owner) and keeps its locks until `COMMIT PREPARED` or `ROLLBACK PREPARED`.
    public var prepared: PreparedTransaction? = nil

    /// A row of `pg_prepared_xacts`.
    public struct PreparedTransaction: Sendable, Hashable, Codable {
        public var gid: String
        public var database: String
        /// When it was prepared (server time, as text).
        public var preparedAt: String
    }

    public var description: String {
        let age = transactionAgeSeconds.map { String(format: "%.1fs", $0) } ?? "?"
        if let prepared {
            let gid = SQLQuote.literal(prepared.gid)
            return "prepared transaction \(gid) (owner \(user ?? "?"), database \(prepared.database), prepared at \(prepared.preparedAt), \(age) ago, holds \(lockMode)): "
                + "a two-phase-commit transaction keeps its locks, with no session to end, until `COMMIT PREPARED \(gid)` or `ROLLBACK PREPARED \(gid)` is run "
                + "(by its owner or a superuser, connected to \(prepared.database)) — by its transaction manager, normally"
        }
        return "pid \(pid) (\(user ?? "?")@\(application?.isEmpty == false ? application! : "?"), \(state ?? "?"), transaction open \(age), holds \(lockMode)): \(query ?? "")"
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "pid": .int(pid), "user": .optional(user), "application": .optional(application), "state": .optional(state),
            "query": .optional(query), "transaction_age_s": transactionAgeSeconds.map(JSONValue.double) ?? .null, "lock_mode": .string(lockMode)]
        if let prepared {
            fields["prepared_transaction"] = ["gid": .string(prepared.gid), "database": .string(prepared.database),
                                              "prepared_at": .string(prepared.preparedAt)]
        }
        return .object(fields)
    }

    /// Prepared transactions of the current database: those holding a granted lock on `table`
    /// (its quoted name), or — with `waiting` — all of them when that session waits for one
    /// (`pg_blocking_pids` lists a prepared transaction as pid 0). Empty on any error.
    static func preparedTransactions(_ connection: Connection, table: String? = nil, waiting pid: Int32? = nil) -> [Blocker] {
        let rows = try? connection.query("""
            SELECT * FROM (
              SELECT p.gid, p.owner, p.database, p.prepared::text AS prepared_at,
                     extract(epoch FROM clock_timestamp() - p.prepared)::float8 AS age,
                     (SELECT string_agg(DISTINCT l.mode, ', ')
                      FROM pg_locks x JOIN pg_locks l ON l.virtualtransaction = x.virtualtransaction AND l.pid IS NULL AND l.granted
                      WHERE x.locktype = 'transactionid' AND x.transactionid = p.transaction AND x.pid IS NULL
                        AND l.locktype = 'relation' AND ($1::text IS NULL OR l.relation = to_regclass($1::text))) AS modes
              FROM pg_prepared_xacts p
              WHERE p.database = current_database()
                AND ($2::int IS NULL OR 0 = ANY (pg_blocking_pids($2::int)))
            ) prepared
            WHERE $1::text IS NULL OR modes IS NOT NULL
            ORDER BY age DESC
            """, [table, pid.map { Int($0) }])
        return (rows ?? []).compactMap { row in
            guard let gid = try? row.string("gid"), let database = try? row.string("database"),
                  let preparedAt = try? row.string("prepared_at") else { return nil }
            return Blocker(pid: 0, user: try? row.optionalString("owner"), application: nil, state: "prepared", query: nil,
                           transactionAgeSeconds: try? row.optionalDouble("age"),
                           lockMode: ((try? row.optionalString("modes")) ?? nil) ?? "a lock",
                           prepared: PreparedTransaction(gid: gid, database: database, preparedAt: preparedAt))
        }
    }
}

/// How DDL waits for locks: a short `lock_timeout`, then bounded retries with jittered
/// exponential back-off, so application queries never queue behind Bellows for longer than
/// the timeout.
public struct LockPolicy: Sendable, Hashable {
    public var lockTimeoutMilliseconds: Int
    public var statementTimeoutMilliseconds: Int
    public var retries: Int
    public var baseDelayMilliseconds: Int = 200
    public var maxDelayMilliseconds: Int = 10_000
    /// A stop request (a signal): no further attempt is made once it is set.
    public var shouldStop: @Sendable () -> Bool = { false }

    public static func == (lhs: LockPolicy, rhs: LockPolicy) -> Bool {
        (lhs.lockTimeoutMilliseconds, lhs.statementTimeoutMilliseconds, lhs.retries, lhs.baseDelayMilliseconds, lhs.maxDelayMilliseconds)
            == (rhs.lockTimeoutMilliseconds, rhs.statementTimeoutMilliseconds, rhs.retries, rhs.baseDelayMilliseconds, rhs.maxDelayMilliseconds)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(lockTimeoutMilliseconds); hasher.combine(statementTimeoutMilliseconds); hasher.combine(retries)
        hasher.combine(baseDelayMilliseconds); hasher.combine(maxDelayMilliseconds)
    }

    public init(lockTimeoutMilliseconds: Int = 2000, statementTimeoutMilliseconds: Int = 30_000, retries: Int = 5) {
        self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.retries = retries
    }

    /// The delay before attempt `attempt` (1-based retry), with full jitter over the upper half.
    public func delay(beforeRetry attempt: Int, random: Double = Double.random(in: 0...1)) -> Int {
        let exponential = min(maxDelayMilliseconds, baseDelayMilliseconds << min(attempt - 1, 16))
        return exponential / 2 + Int(Double(exponential / 2) * random)
    }
}

enum LockSafety {
    /// Sessions holding granted locks on `table`, other than ours, whose transaction began
    /// before `since` (server time): sessions that queued behind us and got the lock as we gave
    /// up are not to blame.
    static func blockers(_ connection: Connection, table: String, since: String? = nil) -> [Blocker] {
        let rows = try? connection.query("""
            SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 300) AS query,
                   extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age, string_agg(DISTINCT l.mode, ', ') AS modes
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'relation' AND l.relation = to_regclass($1) AND l.granted AND a.pid <> pg_backend_pid()
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ($2::timestamptz IS NULL OR a.xact_start IS NULL OR a.xact_start < $2::timestamptz)
            GROUP BY a.pid, a.usename, a.application_name, a.state, a.query, a.xact_start
            ORDER BY age DESC NULLS LAST
            """, [table, since])
        return (rows ?? []).compactMap { row in
            guard let pid = try? row.int("pid") else { return nil }
            return Blocker(pid: pid, user: try? row.optionalString("usename"), application: try? row.optionalString("application_name"),
                           state: try? row.optionalString("state"), query: try? row.optionalString("query"),
                           transactionAgeSeconds: try? row.optionalDouble("age"), lockMode: (try? row.optionalString("modes")) ?? "?")
        } + Blocker.preparedTransactions(connection, table: table)
    }

    /// Runs `body` in a transaction with the policy's timeouts; on a lock timeout, reports
    /// who blocks, waits and tries again, up to `policy.retries` times.
    static func inTransaction<T>(_ connection: Connection, policy: LockPolicy, table: String,
                                 report: Reporter, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let since = serverClock(connection)
            do {
                return try connection.withTransaction {
                    try connection.execute("SET LOCAL lock_timeout = '\(policy.lockTimeoutMilliseconds)ms'")
                    try connection.execute("SET LOCAL statement_timeout = '\(policy.statementTimeoutMilliseconds)ms'")
                    return try body()
                }
            } catch let error as PostgresError where error.sqlState == .lockNotAvailable || error.sqlState == .deadlockDetected {
                guard attempt <= policy.retries, !policy.shouldStop() else { throw error }
                let blockers = blockers(connection, table: table, since: since)
                let delay = policy.delay(beforeRetry: attempt)
                report(.lockWait(attempt: attempt, of: policy.retries, retryInMilliseconds: delay, blockers: blockers))
                Thread.sleep(forTimeInterval: Double(delay) / 1000)
            }
        }
    }

    /// Runs one statement outside a transaction block, with the same lock-timeout retries.
    static func standalone(_ connection: Connection, policy: LockPolicy, statementTimeoutMilliseconds: Int,
                           table: String, report: Reporter, _ sql: String) throws {
        try connection.execute("SET lock_timeout = '\(policy.lockTimeoutMilliseconds)ms'")
        try connection.execute("SET statement_timeout = '\(statementTimeoutMilliseconds)ms'")
        var failure: Error?
        var attempt = 0
        while true {
            attempt += 1
            let since = serverClock(connection)
            do {
                try connection.execute(sql)
                break
            } catch {
                let retryable = error.sqlState == .lockNotAvailable || error.sqlState == .deadlockDetected
                guard retryable, attempt <= policy.retries, !policy.shouldStop() else { failure = error; break }
                let blockers = blockers(connection, table: table, since: since)
                let delay = policy.delay(beforeRetry: attempt)
                report(.lockWait(attempt: attempt, of: policy.retries, retryInMilliseconds: delay, blockers: blockers))
                Thread.sleep(forTimeInterval: Double(delay) / 1000)
            }
        }
        _ = try? connection.execute("RESET lock_timeout")
        _ = try? connection.execute("RESET statement_timeout")
        if let failure { throw failure }
    }

    /// The server's clock, as text, for comparing with transaction start times.
    static func serverClock(_ connection: Connection) -> String? {
        try? connection.query("SELECT clock_timestamp()::text AS t").first?.string("t")
    }
}
