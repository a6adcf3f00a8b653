/// Findings in the report formats CI systems read: GitLab Code Quality (`--format gitlab`) and
/// SARIF 2.1.0 (`--format sarif`, GitHub code scanning and others). Pure: the CLI encodes them.
public enum FindingReports {
    /// One GitLab Code Quality issue (the report is a JSON array of them).
    public struct GitLabIssue: Codable, Sendable, Hashable {
        public struct Location: Codable, Sendable, Hashable {
            public struct Lines: Codable, Sendable, Hashable { public var begin: Int }
            public var path: String
            public var lines: Lines
        }
        public var description: String
        public var checkName: String
        /// Stable across runs for the same finding (GitLab matches issues between pipelines by it).
        public var fingerprint: String
        /// `info`, `minor`, `major`, `critical` or `blocker`.
        public var severity: String
        public var location: Location

        enum CodingKeys: String, CodingKey {
            case description, fingerprint, severity, location
            case checkName = "check_name"
        }
    }

    public static func gitLab(_ findings: [Finding]) -> [GitLabIssue] {
        findings.map { f in
            GitLabIssue(description: f.message, checkName: f.rule,
                        fingerprint: SHA256.hex(Array("\(f.rule)\u{0}\(f.file)\u{0}\(f.line)\u{0}\(f.column)\u{0}\(f.message)".utf8)),
                        severity: f.severity == .error ? "major" : f.severity == .warning ? "minor" : "info",
                        location: .init(path: f.file, lines: .init(begin: f.line)))
        }
    }

    /// A SARIF 2.1.0 log with one run.
    public struct SARIFLog: Codable, Sendable, Hashable {
        public struct Run: Codable, Sendable, Hashable {
            public var tool: Tool
            public var results: [Result]
        }
        public struct Tool: Codable, Sendable, Hashable { public var driver: Driver }
        public struct Driver: Codable, Sendable, Hashable {
            public var name: String
            public var version: String
            public var rules: [Rule]
        }
        public struct Text: Codable, Sendable, Hashable { public var text: String }
        public struct Rule: Codable, Sendable, Hashable {
            public var id: String
            public var shortDescription: Text
            public var help: Text?
        }
        public struct Result: Codable, Sendable, Hashable {
            public var ruleId: String
            /// `error`, `warning` or `note`.
            public var level: String
            public var message: Text
            public var locations: [Location]
        }
        public struct Location: Codable, Sendable, Hashable { public var physicalLocation: PhysicalLocation }
        public struct PhysicalLocation: Codable, Sendable, Hashable {
            public var artifactLocation: ArtifactLocation
            public var region: Region
        }
        public struct ArtifactLocation: Codable, Sendable, Hashable { public var uri: String }
        public struct Region: Codable, Sendable, Hashable {
            public var startLine: Int
            public var startColumn: Int
        }

        public var version = "2.1.0"
        public var schema = "https://json.schemastore.org/sarif-2.1.0.json"
        public var runs: [Run]

        enum CodingKeys: String, CodingKey {
            case version, runs
            case schema = "$schema"
        }
    }

    /// `rules` describes the rule ids the findings name (lint's rules; plan checks' ids get their id as text).
    public static func sarif(_ findings: [Finding], version: String, rules: [LintRuleDescription]) -> SARIFLog {
        let described = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var ids: [String] = []
        for f in findings where !ids.contains(f.rule) { ids.append(f.rule) }
        let driver = SARIFLog.Driver(
            name: "bellows", version: version,
            rules: ids.map { id in
                SARIFLog.Rule(id: id, shortDescription: .init(text: described[id]?.summary ?? id),
                              help: described[id].flatMap { $0.remedy.isEmpty ? nil : SARIFLog.Text(text: $0.remedy) })
            })
        let results = findings.map { f in
            SARIFLog.Result(ruleId: f.rule, level: f.severity == .error ? "error" : f.severity == .warning ? "warning" : "note",
                            message: .init(text: f.message),
                            locations: [.init(physicalLocation: .init(artifactLocation: .init(uri: f.file),
                                                                      region: .init(startLine: max(1, f.line), startColumn: max(1, f.column))))])
        }
        return SARIFLog(runs: [.init(tool: .init(driver: driver), results: results)])
    }
}
