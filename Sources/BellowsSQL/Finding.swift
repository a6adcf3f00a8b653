/// How serious a finding is. `error` findings make `bellows check` / `bellows lint` exit 1.
public enum Severity: String, Sendable, Codable, Comparable, CaseIterable {
    case info, warning, error

    private var rank: Int {
        switch self {
        case .info: return 0
        case .warning: return 1
        case .error: return 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A 1-based position in a source file.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a plan or a migration file, located and attributed to a stable rule id.
///
/// Plan checks and SQL lint rules both produce findings so that `check` and `lint` share
/// their output formats (text, JSON, GitHub annotations) and exit codes.
public struct Finding: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var severity: Severity
    /// A stable identifier, e.g. `plan-unknown-key` or `concurrent-in-transaction`.
    public var rule: String
    public var message: String

    public init(file: String, line: Int, column: Int, severity: Severity, rule: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.rule = rule
        self.message = message
    }

    public init(at location: SourceLocation, severity: Severity, rule: String, message: String) {
        self.init(file: location.file, line: location.line, column: location.column,
                  severity: severity, rule: rule, message: message)
    }

    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    /// `file:line:column: severity: message [rule]`, the format compilers and editors understand.
    public var description: String { "\(file):\(line):\(column): \(severity.rawValue): \(message) [\(rule)]" }
}

extension Array where Element == Finding {
    /// Findings in reading order: by file, then line, then column, then rule.
    public func sortedForReading() -> [Finding] {
        sorted { a, b in
            if a.file != b.file { return a.file < b.file }
            if a.line != b.line { return a.line < b.line }
            if a.column != b.column { return a.column < b.column }
            return a.rule < b.rule
        }
    }

    public var hasErrors: Bool { contains { $0.severity == .error } }
}
