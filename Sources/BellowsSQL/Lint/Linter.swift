/// A migration file to lint as part of a sequence (see ``Linter/lint(migrations:)``).
public struct MigrationSource: Sendable, Hashable {
    public var path: String
    public var contents: String
    public var hasRollbackFile: Bool?

    public init(path: String, contents: String, hasRollbackFile: Bool? = nil) {
        self.path = path
        self.contents = contents
        self.hasRollbackFile = hasRollbackFile
    }
}

/// Lints SQL migration files. Pure: the caller reads files and builds the context.
///
/// Suppression comments:
/// - `-- bellows:ignore rule-id[, rule-id…]` silences those rules on the statement the
///   comment precedes or is inside of, and on a statement ending on the comment's line
///   before it (`ALTER …; -- bellows:ignore drop-column`). `all` silences every rule.
/// - `-- bellows:ignore-file rule-id[, rule-id…]` silences them for the whole file.
///
/// Text after the list is free (`-- bellows:ignore drop-column, rename-column: unused since v2`
/// — the first item followed by a space ends the list).
public struct Linter: Sendable {
    /// Every rule, in documentation order.
    public static let allRules: [any LintRule.Type] = [
        ConcurrentInTransactionRule.self,
        NonTransactionalMixedRule.self,
        NonConcurrentIndexRule.self,
        SetNotNullRule.self,
        ConstraintNotValidRule.self,
        ValidateInSameTransactionRule.self,
        ColumnTypeChangeRule.self,
        VolatileDefaultRule.self,
        NotNullWithoutDefaultRule.self,
        UniqueWithoutIndexRule.self,
        RenameColumnRule.self,
        RenameTableRule.self,
        DropColumnRule.self,
        DropTableRule.self,
        EnumValueInTransactionRule.self,
        DMLWithoutWhereRule.self,
        TransactionControlInDoRule.self,
        FileTransactionControlRule.self,
        NulByteRule.self,
        CopyStdinRule.self,
        EmptyMigrationRule.self,
        VacuumFullOrClusterRule.self,
        TableRewriteRule.self,
        NonConcurrentReindexRule.self,
        ExclusionConstraintRule.self,
        PrimaryKeyUsingIndexRule.self,
        MissingLockTimeoutRule.self,
        UnterminatedLiteralRule.self,
        MissingRollbackRule.self,
        MigrationFileNameRule.self,
        DuplicateMigrationNumberRule.self,
        MigrationNumberGapRule.self,
        MigrationHeaderMismatchRule.self,
    ]

    public static var ruleIDs: [String] { allRules.map { $0.id } }

    public static var ruleDescriptions: [LintRuleDescription] {
        allRules.map { LintRuleDescription(id: $0.id, defaultSeverity: $0.defaultSeverity, summary: $0.summary, remedy: $0.remedy) }
    }

    public static func rule(id: String) -> (any LintRule.Type)? {
        allRules.first { $0.id == id }
    }

    public static let ignoreDirective = "bellows:ignore"
    public static let ignoreFileDirective = "bellows:ignore-file"

    public var configuration: LintConfiguration

    public init(configuration: LintConfiguration = .default) {
        self.configuration = configuration
    }

    /// Lints one file. Findings are in reading order, located at the offending token.
    public func lint(path: String, contents: String, context: LintContext = .empty) -> [Finding] {
        lint(LintedFile(path: path, contents: contents), context: context)
    }

    func lint(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for ruleType in Self.allRules where configuration.isEnabled(ruleType.id) {
            let rule = ruleType.init()
            for var finding in rule.check(file, context: context) {
                finding.severity = configuration.severity(for: ruleType.id, default: finding.severity)
                findings.append(finding)
            }
        }
        let suppressions = Suppressions(file)
        return findings.filter { !suppressions.suppresses($0) }.sortedForReading()
    }

    /// Lints migrations in the given (application) order, each with the context of the ones
    /// before it: tables they created, column types, validated NOT NULL checks.
    public func lint(migrations: [MigrationSource], unknownTablesExist: Bool = true) -> [Finding] {
        var history = SchemaHistory()
        let names = migrations.map { String($0.path.split(separator: "/").last ?? Substring($0.path)) }
        // What every file shares (the names and their numbers) is derived once, not per file.
        let base = LintContext(unknownTablesExist: unknownTablesExist, allMigrationFileNames: names)
        var findings: [Finding] = []
        for (source, name) in zip(migrations, names) {
            let file = LintedFile(path: source.path, contents: source.contents)
            findings += lint(file, context: history.context(fileName: name, hasRollbackFile: source.hasRollbackFile, base: base))
            // The statements the rules saw, rather than lexing and splitting the file again.
            for statement in file.statements { history.record(statement) }
        }
        return findings
    }
}

/// Parsed `bellows:ignore` / `bellows:ignore-file` comments of a file.
struct Suppressions {
    struct Span {
        var start: (line: Int, column: Int)
        var end: (line: Int, column: Int)
        var rules: Set<String>
    }

    var fileWide: Set<String> = []
    var spans: [Span] = []

    init(_ file: LintedFile) {
        let statements = file.statements
        for comment in file.analysis.tokens where comment.kind == .comment {
            let body = MigrationFile.commentBody(comment)
            if body.hasPrefix(Linter.ignoreFileDirective) {
                fileWide.formUnion(Self.ruleList(body.dropFirst(Linter.ignoreFileDirective.count)))
                continue
            }
            guard body.hasPrefix(Linter.ignoreDirective) else { continue }
            let rules = Self.ruleList(body.dropFirst(Linter.ignoreDirective.count))
            let position = (comment.line, comment.column)
            var targets: [SQLStatement] = []
            // A comment after a statement on the same line (`…; -- bellows:ignore x`) is about
            // that statement only.
            for s in statements {
                let endToken = s.terminator ?? s.significantTokens.last
                if let endToken, endToken.line == comment.line, (endToken.line, endToken.column) < position,
                   let first = s.significantTokens.first, (first.line, first.column) <= (endToken.line, endToken.column) {
                    targets.append(s)
                } else if let first = s.significantTokens.first, let endToken,
                          (first.line, first.column) < position && position < (endToken.line, endToken.column) {
                    targets.append(s)  // inside the statement's own text
                }
            }
            if targets.isEmpty {
                // Otherwise: the statement the comment is inside of or precedes.
                for s in statements {
                    guard let first = s.tokens.first else { continue }
                    let endToken = s.terminator ?? s.tokens.last ?? first
                    if (first.line, first.column) <= position && position <= (endToken.line, endToken.column) {
                        targets.append(s)
                    }
                }
            }
            for s in targets {
                guard let first = s.tokens.first else { continue }
                let endToken = s.terminator ?? s.tokens.last ?? first
                spans.append(Span(start: (first.line, first.column), end: (endToken.line, endToken.column), rules: rules))
            }
        }
    }

    /// `rule-a, rule-b: reason` → {rule-a, rule-b}.
    static func ruleList(_ text: Substring) -> Set<String> {
        var rules: Set<String> = []
        for item in text.split(separator: ",") {
            let words = item.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { break }
            let id = String(first.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            if !id.isEmpty { rules.insert(id) }
            if words.count > 1 || id.count != first.count { break }
        }
        return rules
    }

    func suppresses(_ finding: Finding) -> Bool {
        if fileWide.contains(finding.rule) || fileWide.contains("all") { return true }
        let position = (finding.line, finding.column)
        return spans.contains { span in
            (span.rules.contains(finding.rule) || span.rules.contains("all"))
                && span.start <= position && position <= span.end
        }
    }
}
