import BellowsPlan
import BellowsSQL
import Foundation
import Testing

/// `bellows.yaml`: lint rules turned off or given another severity, with located errors.
struct ProjectConfigTests {
    func load(_ yaml: String) throws -> (LintConfiguration, [Finding]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return ProjectConfig.lintConfiguration(path: path)
    }

    @Test func disablesRulesAndOverridesSeverities() throws {
        let (configuration, findings) = try load("""
            lint:
              disable: [missing-lock-timeout]
              severity:
                drop-column: error
            """)
        #expect(findings.isEmpty)
        #expect(configuration.disabledRules == ["missing-lock-timeout"])
        #expect(configuration.severityOverrides["drop-column"] == .error)
    }

    @Test func unknownRulesAndKeysAreLocatedWithASuggestion() throws {
        let (_, findings) = try load("""
            lint:
              disable: [missing-lock-timout]
              severty: {}
            """)
        let rules = findings.map(\.rule).sorted()
        #expect(rules == ["config-unknown-rule", "plan-unknown-key"])
        let unknownRule = try #require(findings.first { $0.rule == "config-unknown-rule" })
        #expect(unknownRule.line == 2 && unknownRule.message.contains("missing-lock-timeout"))
        let unknownKey = try #require(findings.first { $0.rule == "plan-unknown-key" })
        #expect(unknownKey.line == 3 && unknownKey.message.contains("severity"))
    }

    @Test func aMissingFileIsTheDefault() {
        let (configuration, findings) = ProjectConfig.lintConfiguration(path: "/nonexistent/bellows.yaml")
        #expect(findings.isEmpty && configuration == .default)
    }

    @Test func anAliasBombAsAKeyIsRefusedQuickly() throws {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...12 { yaml += "l\(level): &l\(level) [*\(level == 1 ? "a" : "l\(level - 1)"), *\(level == 1 ? "a" : "l\(level - 1)"), *\(level == 1 ? "a" : "l\(level - 1)")]\n" }
        yaml += "? *l12\n: boom\n"
        let started = Date()
        let (_, findings) = try load(yaml)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(!findings.isEmpty)
    }
}
