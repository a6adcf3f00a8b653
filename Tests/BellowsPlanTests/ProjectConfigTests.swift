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

/// `hooks:` in `bellows.yaml`: which commands run at which phase events, with located errors.
struct HookConfigTests {
    func load(_ yaml: String) throws -> (ProjectConfig.Configuration, [Finding]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return ProjectConfig.load(path: path)
    }

    @Test func hooksAreReadAndChosenByEventAndPhase() throws {
        let (configuration, findings) = try load("""
            lint:
              disable: [missing-lock-timeout]
            hooks:
              timeout_seconds: 20
              progress_minutes: 0.5
              commands:
                - name: backup-taken
                  when: before contract
                  run: ./check-backup
                  timeout_seconds: 300
                - name: chat
                  when: [after, refused, failed, interrupted, progress]
                  run: curl -fsS https://chat.example/hook
                - when: before any
                  run: echo starting
            """)
        #expect(findings.isEmpty, "\(findings)")
        #expect(configuration.lint.disabledRules == ["missing-lock-timeout"])
        let hooks = configuration.hooks
        #expect(hooks.progressMinutes == 0.5)
        #expect(hooks.hooks.map(\.name) == ["backup-taken", "chat", "hook 3"])
        #expect(hooks.hooks.map(\.timeoutSeconds) == [300, 20, 20])
        #expect(hooks.hooks(for: .before, phase: .contract).map(\.name) == ["backup-taken", "hook 3"])
        #expect(hooks.hooks(for: .before, phase: .expand).map(\.name) == ["hook 3"])
        #expect(hooks.hooks(for: .after, phase: .rollback).map(\.name) == ["chat"])
        #expect(hooks.hooks(for: .progress, phase: .backfill).map(\.name) == ["chat"])
        #expect(hooks.hasProgressHooks)
        #expect(configuration.hookFindings.isEmpty)
    }

    @Test func aWrongHookIsLocatedAndCountsAgainstTheHooks() throws {
        let (configuration, findings) = try load("""
            hooks:
              timeout_seconds: 0
              commands:
                - name: backup
                  when: [befor contract, progress verify, after contract]
                  run: ./check-backup
                - name: nothing-to-run
                  when: after
            """)
        let messages = findings.map { "\($0.line):\($0.rule): \($0.message)" }
        #expect(findings.count == 4, "\(messages)")
        #expect(findings.contains { $0.line == 2 && $0.message.contains("above 0") })
        #expect(findings.filter { $0.line == 5 && $0.message.contains("'when' must be") }.count == 2)
        #expect(findings.contains { $0.line == 7 && $0.message.contains("needs 'run'") })
        #expect(configuration.hookFindings.count == 4)
        // What could be read is kept: the valid trigger of `backup`.
        #expect(configuration.hooks.hooks(for: .after, phase: .contract).map(\.name) == ["backup"])
    }

    @Test func aLintErrorIsNoHookError() throws {
        let (configuration, findings) = try load("""
            lint:
              disable: [no-such-rule]
            hooks:
              commands: [{ when: after, run: "true" }]
            """)
        #expect(findings.map(\.rule) == ["config-unknown-rule"])
        #expect(configuration.hookFindings.isEmpty && configuration.hooks.hooks.count == 1)
    }
}
