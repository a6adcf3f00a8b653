import BellowsSQL
import Testing
@testable import BellowsPlan

/// A problem inside an expression is reported where its character is in the file, whatever
/// YAML style the expression is written in: each character of an expression must map back to
/// that very character in the source (or to the backslash of its escape).
@Suite struct ExpressionLocationTests {
    /// Checks the source map of every expression of a loaded plan against `source`.
    static func mismatches(_ plan: Plan, source: String) -> [String] {
        let text = SourceText(source)
        var problems: [String] = []
        for (key, expression) in PlanValidator.expressions(of: plan) {
            guard expression.sourceMap != nil else { problems.append("\(key): no source map for \(expression.text.debugDescription)"); continue }
            var line = 1, column = 1
            for scalar in expression.text.unicodeScalars {
                defer { if scalar == "\n" { line += 1; column = 1 } else { column += 1 } }
                let location = expression.sourceLocation(line: line, column: column)
                guard let index = text.index(line: location.line, column: location.column), index < text.scalars.count else {
                    problems.append("\(key): \(line):\(column) maps outside the file (\(location))"); continue
                }
                let found = text.scalars[index]
                // Line breaks and folded spaces map to the break they come from; escapes to their backslash.
                if found == scalar || found == "\\" || scalar == "\n" || (scalar == " " && text.breakLength(at: index) > 0) { continue }
                problems.append("\(key): \(line):\(column) \(scalar.escaped(asASCII: true)) maps to \(location) = \(found.escaped(asASCII: true))")
            }
        }
        return problems
    }

    @Test(arguments: Repository.examplePlanNames)
    func everyCharacterOfTheExamplesMapsToItself(_ name: String) throws {
        let source = Repository.text(Repository.plansDirectory.appendingPathComponent(name + ".yaml"))
        for variant in [source, source.replacingOccurrences(of: "\n", with: "\r\n")] {
            let plan = try #require(PlanLoader.load(file: "plans/\(name).yaml", source: variant).plan)
            #expect(Self.mismatches(plan, source: variant).isEmpty, "\(Self.mismatches(plan, source: variant).prefix(5))")
        }
    }

    static let pieces = ["lower(", "email", ")", " ", "'", "''", "\"", "é", "𝄞", "\t", "||", "--", "::text", "\\", "#", ": ", "[", "{", "$$", "x", "  "]

    enum Style: CaseIterable { case singleQuoted, doubleQuoted, doubleQuotedWithUnicodeEscapes, literal, literalKeep, folded }

    static func yaml(_ value: String, _ style: Style) -> String? {
        switch style {
        case .singleQuoted:
            guard !value.contains("\n") else { return nil }
            return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
        case .doubleQuoted, .doubleQuotedWithUnicodeEscapes:
            guard !value.contains("\n") else { return nil }
            var out = "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\t": out += "\\t"
                default: out += style == .doubleQuotedWithUnicodeEscapes && !scalar.isASCII
                    ? (scalar.value > 0xFFFF ? String(format: "\\U%08X", scalar.value) : String(format: "\\u%04X", scalar.value))
                    : String(scalar)
                }
            }
            return out + "\""
        case .literal, .literalKeep:
            guard let first = value.unicodeScalars.first, first != " ", first != "\t", first != "\n",
                  !value.hasSuffix("\n") else { return nil }
            let lines = value.components(separatedBy: "\n").map { $0.isEmpty ? "" : "      " + $0 }
            // The plan template puts a line break after the scalar: `|+` keeps it.
            return (style == .literal ? "|-\n" : "|+\n") + lines.joined(separator: "\n")
        case .folded:
            // Folding turns single line breaks into spaces: only single-line values read back verbatim.
            guard let first = value.unicodeScalars.first, first != " ", first != "\t", !value.contains("\n"),
                  value.last != " ", value.last != "\t" else { return nil }
            return ">-\n      " + value
        }
    }

    @Test func randomExpressionsInEveryStyle() throws {
        var rng = SplitMix(state: 2024)
        var checked = 0
        for _ in 0..<600 {
            let count = Int.random(in: 1...12, using: &rng)
            var value = (0..<count).map { _ in Self.pieces.randomElement(using: &rng) ?? "x" }.joined()
            if Bool.random(using: &rng) { value += "\n" + (0..<count).map { _ in Self.pieces.randomElement(using: &rng) ?? "x" }.joined() }
            value = value.trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { continue }
            for style in Style.allCases {
                guard let scalar = Self.yaml(value, style) else { continue }
                let source = "table: users\nchanges:\n  - alter: email\n    up: \(scalar)\n    rename_to: email_address\n    down: email_address\n"
                let result = PlanLoader.load(file: "plans/010_x.yaml", source: source)
                let plan = try #require(result.plan, "\(style) \(value.debugDescription): \(result.findings)")
                guard case .alter(let change) = plan.changes.first, let up = change.up else { Issue.record("no up"); continue }
                let expected = style == .literalKeep ? value + "\n" : value
                #expect(up.text == expected, "\(style): YAML read back \(up.text.debugDescription), wrote \(expected.debugDescription)")
                let problems = Self.mismatches(plan, source: source)
                #expect(problems.isEmpty, "\(style) \(value.debugDescription):\n\(source)\n\(problems.prefix(3))")
                checked += 1
            }
        }
        #expect(checked > 1_000)
    }

    @Test func findingsOfTheExpressionCheckLandOnTheirCharacter() {
        // The stray ')' is preceded by escapes that are longer in the file than in the value.
        let cases: [(yaml: String, at: String)] = [
            ("'it''s'')'", "4:17"),
            ("\"\\u00e9\\t\\\\x)\"", "4:21"),
            ("\"a\\\n      b)\"", "5:8"),
            ("|\n      a\n\n      b)", "7:8"),
            (">\n      a\n      b)", "6:8"),
        ]
        for (yaml, at) in cases {
            let findings = check("table: users\nchanges:\n  - alter: email\n    up: \(yaml)\n    rename_to: email_address\n    down: email_address\n")
            let expression = findings.filter { $0.rule == "plan-expression" }
            #expect(expression.map { "\($0.line):\($0.column)" } == [at], "\(yaml.debugDescription): \(findings)")
        }
    }
}
