/// A non-transactional file (one that must run outside a transaction) that does more than
/// its one non-transactional statement.
public struct NonTransactionalMixedRule: LintRule {
    public static let id = "non-transactional-mixed"
    public static let defaultSeverity = Severity.warning
    public static let summary = "A file that runs outside a transaction (CREATE INDEX CONCURRENTLY, VACUUM…) and also contains other statements (a failure half-way leaves it half-applied)"
    public static let remedy = "Keep the non-transactional statement alone in its file, or make every statement idempotent."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        guard case .nonTransactional(let reason) = file.analysis.transactionMode else { return [] }
        let work = file.statements.filter { s in
            !MigrationFile.isTransactionControl(s) && !s.matches("SET") && !s.matches("RESET")
        }
        guard work.count > 1, let second = work.dropFirst().first, let token = second.significantTokens.first else { return [] }
        return [finding(file, at: token,
            "this file runs outside a transaction (\(reason)) and has \(work.count) statements: each commits on its own, so a failure half-way leaves the earlier ones applied and a re-run trips over them. Keep the non-transactional statement alone in its file (Bellows' safe pattern), or make every statement idempotent (IF [NOT] EXISTS)")]
    }
}
