import Testing
@testable import BellowsSQL

/// Arbitrary input must never crash the lexer, splitter, expression check or linter, and
/// the lexer must give back every character.
@Suite struct RobustnessTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = ["ALTER", " TABLE ", "t", " ADD ", "COLUMN", " x ", "int", " NOT NULL", " DEFAULT ", "random()",
                         "CREATE", " INDEX ", "CONCURRENTLY", " ON ", "(", ")", "[", "]", ";", "'", "''", "\"", "$$", "$a$",
                         "$1", "E'\\'", "--", "/*", "*/", "\n", "BEGIN", "COMMIT", "DO", "TYPE", "varchar(", "10", ",",
                         "SET", "VALIDATE CONSTRAINT c", "CHECK", "RENAME", "DROP", "é", "::", ".", "-", "U&'", "x'", "UPDATE ",
                         "ATOMIC", "END", "CASE", "FULL", "VACUUM", "USING", "lock_timeout", "= ", "0"]

    @Test func randomInputNeverCrashes() {
        var rng = SplitMix(state: 42)
        for _ in 0..<400 {
            let count = Int.random(in: 0...40, using: &rng)
            let sql = (0..<count).map { _ in Self.pieces.randomElement(using: &rng) ?? "" }.joined()
            #expect(Lexer.tokenize(sql).map(\.text).joined() == sql)
            _ = StatementSplitter.split(sql)
            _ = ExpressionCheck.problems(in: sql)
            _ = MigrationFile.analyze(sql)
            var history = SchemaHistory()
            history.record(sql)
            for finding in Linter().lint(path: "001_x.sql", contents: sql, context: history.context()) {
                #expect(finding.line >= 1 && finding.column >= 1)
            }
        }
    }
}
