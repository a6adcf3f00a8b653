/// `ADD COLUMN … DEFAULT random()` (and serial / identity / stored generated columns):
/// PostgreSQL must compute a value per row, so it rewrites the table.
public struct VolatileDefaultRule: LintRule {
    public static let id = "volatile-default"
    public static let defaultSeverity = Severity.error
    public static let summary = "ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), serial, identity, stored generated) on an existing table"
    public static let remedy = "Add the column without default (or a constant / STABLE one), `SET DEFAULT` for new rows, backfill in batches."

    /// Volatile functions commonly used as defaults. `now()`/`current_timestamp` are STABLE:
    /// PostgreSQL 11+ stores their value once and does not rewrite.
    public static let volatileFunctions: Set<String> = [
        "random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid", "gen_random_bytes",
        "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7",
        "nextval", "txid_current", "pg_current_xact_id", "setseed",
    ]

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                guard case .column(let column, let nameIndex)? = AddAction(action) else { continue }
                let tokens = action.significantTokens
                let rewrite = "rewrites the whole table `\(alter.table)` under an ACCESS EXCLUSIVE lock, blocking reads and writes"
                let advice = "Add the column without a default (or with a constant or STABLE one like now()), then fill existing rows with a batched backfill (a Bellows plan) and set the default for new rows with ALTER COLUMN … SET DEFAULT"
                if let typeToken = action[significant: nameIndex + 1], typeToken.kind == .word,
                   ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"].contains(typeToken.lower) {
                    findings.append(finding(file, at: typeToken,
                        "adding `\(column)` as \(typeToken.lower) fills every row from a sequence and \(rewrite). \(advice)"))
                    continue
                }
                if let generated = action.indexOf("GENERATED"), let token = action[significant: generated],
                   action.indexOf("IDENTITY", from: generated) != nil || action.indexOf("STORED", from: generated) != nil {
                    findings.append(finding(file, at: token,
                        "adding `\(column)` as an identity or stored generated column computes a value for every row and \(rewrite). \(advice)"))
                    continue
                }
                guard let defaultIndex = action.indexOf("DEFAULT") else { continue }
                for k in (defaultIndex + 1)..<tokens.count {
                    let t = tokens[k]
                    guard t.kind == .word, Self.volatileFunctions.contains(t.lower),
                          k + 1 < tokens.count, tokens[k + 1].isSymbol("(") else { continue }
                    findings.append(finding(file, at: t,
                        "adding `\(column)` with the volatile default \(t.lower)() evaluates it for every existing row and \(rewrite). \(advice)"))
                    break
                }
            }
        }
        return findings
    }
}
