/// One lint rule. Rules are stateless values; ``Linter/allRules`` lists them all.
///
/// A rule returns findings with its default severity (or a lower one for a "maybe");
/// the ``Linter`` then applies the configuration's overrides and suppression comments.
public protocol LintRule: Sendable {
    /// Stable kebab-case id, used in findings, suppressions and `bellows.yaml`.
    static var id: String { get }
    static var defaultSeverity: Severity { get }
    /// One line: what the rule catches.
    static var summary: String { get }
    /// How to fix what it catches (docs/lint.md's "How to fix"), for `lint --explain` and SARIF.
    static var remedy: String { get }
    init()
    func check(_ file: LintedFile, context: LintContext) -> [Finding]
}

/// A rule's id, severity and summary, for `bellows lint --list-rules` and docs.
public struct LintRuleDescription: Sendable, Hashable {
    public var id: String
    public var defaultSeverity: Severity
    public var summary: String
    public var remedy: String = ""
}

extension LintRule {
    public static var remedy: String { "" }
}

extension LintRule {
    /// A finding of this rule at `token`.
    func finding(_ file: LintedFile, at token: Token, _ message: String, severity: Severity? = nil) -> Finding {
        Finding(file: file.path, line: token.line, column: token.column,
                severity: severity ?? Self.defaultSeverity, rule: Self.id, message: message)
    }

    func finding(_ file: LintedFile, line: Int, column: Int, _ message: String, severity: Severity? = nil) -> Finding {
        Finding(file: file.path, line: line, column: column,
                severity: severity ?? Self.defaultSeverity, rule: Self.id, message: message)
    }
}
