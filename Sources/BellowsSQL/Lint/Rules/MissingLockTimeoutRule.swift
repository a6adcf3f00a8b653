/// Lock-taking DDL on an existing table with no `lock_timeout` set before it.
public struct MissingLockTimeoutRule: LintRule {
    public static let id = "missing-lock-timeout"
    public static let defaultSeverity = Severity.warning
    public static let summary = "No SET lock_timeout before the first lock-taking DDL on an existing table (a queued lock stalls all traffic)"
    public static let remedy = "`SET lock_timeout = '2s';` (or `SET LOCAL` in the transaction) at the top of the file."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        if context.runnerSetsLockTimeout { return [] }
        var sessionTimeout = false
        var localTimeoutGroup: Int?
        for (i, s) in file.statements.enumerated() {
            let group = file.transactionGroup[i]
            if let (isLocal, enables) = Self.lockTimeoutSetting(s) {
                if isLocal {
                    localTimeoutGroup = enables && file.runsInTransaction[i] ? group : nil
                } else {
                    sessionTimeout = enables
                    if !enables { localTimeoutGroup = nil }
                }
                continue
            }
            if sessionTimeout || localTimeoutGroup == group { continue }
            guard let (token, what) = lockingDDL(s, index: i, file: file, context: context) else { continue }
            return [finding(file, at: token,
                "\(what) waits for an exclusive lock with no lock_timeout: if a long transaction holds the table, this statement queues and every later query on the table queues behind it — an outage. Start the file with `SET lock_timeout = '2s';` (or `SET LOCAL` inside the transaction) and retry on timeout")]
        }
        return []
    }

    /// `SET [SESSION|LOCAL] lock_timeout …`, `RESET lock_timeout`, `SELECT set_config('lock_timeout', …)`:
    /// whether it is transaction-local and whether it enables a timeout (not `0`/`DEFAULT`).
    static func lockTimeoutSetting(_ s: SQLStatement) -> (isLocal: Bool, enables: Bool)? {
        if s.matches("RESET", "lock_timeout") || s.matches("RESET", "ALL") { return (false, false) }
        if s.matches("SET") {
            var k = 1
            var isLocal = false
            if s.matches(["LOCAL"], at: 1) { isLocal = true; k = 2 }
            else if s.matches(["SESSION"], at: 1) { k = 2 }
            guard s.matches(["lock_timeout"], at: k) else { return nil }
            let value = s[significant: k + 2]
            return (isLocal, !Self.isZero(value))
        }
        if s.matches("SELECT"), let f = s.indexOf("set_config"), s[significant: f + 2]?.stringValue == "lock_timeout" {
            let value = s[significant: f + 4]
            let isLocal = s[significant: f + 6]?.isKeyword("TRUE") == true
            return (isLocal, !Self.isZero(value))
        }
        return nil
    }

    private static func isZero(_ token: Token?) -> Bool {
        guard let token else { return true }
        if token.isKeyword("DEFAULT") { return true }
        let text = token.stringValue ?? token.text
        return text.trimmingCharacters() == "0" || text.hasPrefix("0") && !text.contains(where: { $0 >= "1" && $0 <= "9" })
    }

    /// The first token and a description of a statement that takes a strong lock on an
    /// existing table.
    func lockingDDL(_ s: SQLStatement, index i: Int, file: LintedFile, context: LintContext) -> (Token, String)? {
        guard let first = s.significantTokens.first else { return nil }
        func existing(at k: Int) -> Bool {
            guard let (name, _) = s.qualifiedName(at: s.skippingModifiers(at: k)) else { return false }
            return file.isExistingTable(name, before: i, context: context)
        }
        if let alter = AlterTable(s) {
            return file.isExistingTable(alter.table, before: i, context: context) ? (first, "ALTER TABLE `\(alter.table)`") : nil
        }
        if let (_, table) = NonConcurrentIndexRule.nonConcurrentIndex(s) {
            return file.isExistingTable(table, before: i, context: context) ? (first, "CREATE INDEX on `\(table)`") : nil
        }
        if s.matches("DROP", "TABLE") { return existing(at: 2) ? (first, "DROP TABLE") : nil }
        if s.matches("DROP", "INDEX"), !s.matches("DROP", "INDEX", "CONCURRENTLY") { return (first, "DROP INDEX") }
        if s.matches("TRUNCATE") { return existing(at: s.matches("TRUNCATE", "TABLE") ? 2 : 1) ? (first, "TRUNCATE") : nil }
        if s.matches("LOCK") { return existing(at: s.matches("LOCK", "TABLE") ? 2 : 1) ? (first, "LOCK") : nil }
        if s.matches("CREATE") || s.matches("DROP"), let trigger = s.indexOf("TRIGGER"), trigger <= 4,
           let on = s.indexOf("ON") {
            return existing(at: on + 1) ? (first, "\(first.upper) TRIGGER") : nil
        }
        if s.matches("REINDEX"), s.indexOf("CONCURRENTLY") == nil { return (first, "REINDEX") }
        if s.matches("CLUSTER") || (s.matches("VACUUM") && VacuumFullOrClusterRule.fullToken(s) != nil) {
            return (first, s.matches("CLUSTER") ? "CLUSTER" : "VACUUM FULL")
        }
        return nil
    }
}
