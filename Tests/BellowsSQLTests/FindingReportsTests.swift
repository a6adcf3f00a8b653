import Foundation
import Testing
@testable import BellowsSQL

/// `--format gitlab` and `--format sarif` (issue 20): the reports CI systems read.
@Suite struct FindingReportsTests {
    static let findings = [
        Finding(file: "migrations/002_b.sql", line: 3, column: 8, severity: .error, rule: "non-concurrent-index", message: "CREATE INDEX blocks writes"),
        Finding(file: "migrations/002_b.sql", line: 1, column: 1, severity: .warning, rule: "missing-lock-timeout", message: "no lock_timeout"),
        Finding(file: "plans/001_a.yaml", line: 4, column: 5, severity: .info, rule: "plan-note", message: "a note"),
    ]

    @Test func gitLabCodeQualityHasEveryFieldWithStableDistinctFingerprints() throws {
        let issues = FindingReports.gitLab(Self.findings)
        #expect(issues.map(\.severity) == ["major", "minor", "info"])
        #expect(issues[0].checkName == "non-concurrent-index" && issues[0].location.path == "migrations/002_b.sql" && issues[0].location.lines.begin == 3)
        #expect(Set(issues.map(\.fingerprint)).count == 3)
        #expect(FindingReports.gitLab(Self.findings).map(\.fingerprint) == issues.map(\.fingerprint))
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(issues)) as? [[String: Any]])
        #expect(Set(json[0].keys) == ["description", "check_name", "fingerprint", "severity", "location"])
    }

    @Test func sarifNamesEachRuleOnceWithItsRemedyAndLocatesEachResult() throws {
        let rules = [LintRuleDescription(id: "non-concurrent-index", defaultSeverity: .error, summary: "CREATE INDEX without CONCURRENTLY", remedy: "CREATE INDEX CONCURRENTLY")]
        let log = FindingReports.sarif(Self.findings + [Self.findings[0]], version: "0.1.0", rules: rules)
        let run = try #require(log.runs.first)
        #expect(run.tool.driver.rules.map(\.id) == ["non-concurrent-index", "missing-lock-timeout", "plan-note"])
        #expect(run.tool.driver.rules[0].help?.text == "CREATE INDEX CONCURRENTLY" && run.tool.driver.rules[1].help == nil)
        #expect(run.results.map(\.level) == ["error", "warning", "note", "error"])
        #expect(run.results[0].locations[0].physicalLocation.region.startLine == 3 && run.results[0].locations[0].physicalLocation.region.startColumn == 8)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(log)) as? [String: Any])
        #expect(json["version"] as? String == "2.1.0" && json["$schema"] != nil)
    }

    /// Every rule says how to fix what it catches (`lint --explain`, SARIF's help).
    @Test func everyLintRuleHasARemedy() {
        #expect(Linter.ruleDescriptions.filter(\.remedy.isEmpty).map(\.id) == [])
    }
}
