/// `VACUUM FULL` and `CLUSTER`: full rewrites under an ACCESS EXCLUSIVE lock.
public struct VacuumFullOrClusterRule: LintRule {
    public static let id = "vacuum-full-or-cluster"
    public static let defaultSeverity = Severity.error
    public static let summary = "VACUUM FULL or CLUSTER (rewrites tables under an ACCESS EXCLUSIVE lock)"
    public static let remedy = "Plain `VACUUM`; pg_repack / pg_squeeze outside migrations."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for s in file.statements {
            if s.matches("CLUSTER"), let token = s.significantTokens.first {
                findings.append(finding(file, at: token,
                    "CLUSTER rewrites the table and all its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite. Use pg_repack or pg_squeeze, which reorder a table online, outside migrations"))
            } else if s.matches("VACUUM"), let token = Self.fullToken(s) {
                findings.append(finding(file, at: token,
                    "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite. Use plain VACUUM (no lock against reads and writes), or pg_repack / pg_squeeze to reclaim space online"))
            }
        }
        return findings
    }

    /// The `FULL` of `VACUUM FULL …` or `VACUUM (FULL [true|on|1], …) …`.
    static func fullToken(_ s: SQLStatement) -> Token? {
        let tokens = s.significantTokens
        if s.matches(["FULL"], at: 1) { return tokens[1] }
        guard s[significant: 1]?.isSymbol("(") == true else { return nil }
        var k = 2
        while k < tokens.count, !tokens[k].isSymbol(")") {
            if tokens[k].isKeyword("FULL") {
                let next = k + 1 < tokens.count ? tokens[k + 1] : nil
                let off = next.map { ["FALSE", "OFF", "0"].contains($0.upper) || $0.text == "'false'" || $0.text == "'off'" } ?? false
                return off ? nil : tokens[k]
            }
            k += 1
        }
        return nil
    }
}
