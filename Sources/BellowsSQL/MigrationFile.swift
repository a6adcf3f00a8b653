/// The header comments of a migration file:
///
/// ```sql
/// -- Migration: 003_add_customer_email
/// -- Description: Adds customers.email
/// -- Dependencies: 001_initial_schema, 002_foo
/// ```
///
/// Read from the comments before the first statement; keys are case-insensitive.
public struct MigrationHeader: Sendable, Hashable {
    public var migration: String?
    public var description: String?
    /// Comma-separated in the file; `none` or an empty value is `[]`.
    public var dependencies: [String]
    /// Line of the `-- Migration:` comment, for findings.
    public var migrationLine: Int?

    public init(migration: String? = nil, description: String? = nil, dependencies: [String] = [], migrationLine: Int? = nil) {
        self.migration = migration
        self.description = description
        self.dependencies = dependencies
        self.migrationLine = migrationLine
    }
}

/// Whether a migration file can run inside one transaction.
public enum TransactionMode: Sendable, Hashable {
    /// The runner wraps the whole file in one transaction (explicit `BEGIN`/`COMMIT`
    /// statements in the file are then skipped).
    case transactional
    /// Statements run one by one in autocommit mode; `reason` says why (the directive or the
    /// first statement PostgreSQL refuses inside a transaction block, with its line).
    case nonTransactional(reason: String)

    public var isTransactional: Bool {
        if case .transactional = self { return true }
        return false
    }
}

/// What a migration file contains, as the runner and the linter need it.
public struct MigrationAnalysis: Sendable {
    public var header: MigrationHeader
    public var statements: [SQLStatement]
    public var transactionMode: TransactionMode
    /// `true` when the file has top-level `BEGIN`/`START TRANSACTION`/`COMMIT`/`END`/
    /// `ROLLBACK`/`ABORT` statements.
    public var explicitTransactionControl: Bool
    /// All tokens of the file, comments included.
    public var tokens: [Token]

    /// The statements without explicit transaction control, for a runner that provides the
    /// transaction itself.
    public var executableStatements: [SQLStatement] {
        MigrationFile.strippingTransactionControl(statements)
    }
}

/// Analysis of migration files: header, statements, transaction mode. Pure, no I/O.
public enum MigrationFile {
    /// The comment directive that makes a file run outside a transaction.
    public static let noTransactionDirective = "bellows:no-transaction"

    public static func analyze(_ sql: String) -> MigrationAnalysis {
        let tokens = Lexer.tokenize(sql)
        let statements = StatementSplitter.split(tokens: tokens)
        let header = parseHeader(tokens)
        var mode = TransactionMode.transactional
        if let directive = tokens.first(where: { $0.kind == .comment && commentBody($0).hasPrefix(noTransactionDirective) }) {
            mode = .nonTransactional(reason: "the file has a `-- \(noTransactionDirective)` directive (line \(directive.line))")
        } else if let statement = statements.first(where: isNonTransactional) {
            let what = nonTransactionalDescription(statement) ?? statement.verb
            mode = .nonTransactional(reason: "`\(what)` at line \(statement.line) cannot run inside a transaction block")
        }
        return MigrationAnalysis(
            header: header, statements: statements, transactionMode: mode,
            explicitTransactionControl: statements.contains(where: isTransactionControl),
            tokens: tokens)
    }

    /// Reads the header from the comments before the first significant token.
    public static func parseHeader(_ sql: String) -> MigrationHeader {
        parseHeader(Lexer.tokenize(sql))
    }

    static func parseHeader(_ tokens: [Token]) -> MigrationHeader {
        var header = MigrationHeader()
        for token in tokens {
            if token.isSignificant { break }
            guard token.kind == .comment else { continue }
            var lineNumber = token.line
            for rawLine in token.text.split(separator: "\n", omittingEmptySubsequences: false) {
                defer { lineNumber += 1 }
                var line = Substring(rawLine)
                for prefix in ["--", "/*", "*"] where line.trimmingSpaces().hasPrefix(prefix) {
                    line = line.trimmingSpaces().dropFirst(prefix.count)
                }
                line = line.trimmingSpaces()
                if line.hasSuffix("*/") { line = line.dropLast(2).trimmingSpaces() }
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = asciiLowercased(String(line[..<colon]).trimmingCharacters())
                let value = String(line[line.index(after: colon)...]).trimmingCharacters()
                switch key {
                case "migration" where header.migration == nil:
                    header.migration = value.isEmpty ? nil : value
                    header.migrationLine = lineNumber
                case "description" where header.description == nil:
                    header.description = value.isEmpty ? nil : value
                case "dependencies", "depends on", "depends-on":
                    let items = value.split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
                    if !(items.count == 1 && asciiLowercased(items[0]) == "none") {
                        header.dependencies += items
                    }
                default:
                    break
                }
            }
        }
        return header
    }

    /// `true` for statements PostgreSQL refuses inside a transaction block.
    public static func isNonTransactional(_ statement: SQLStatement) -> Bool {
        nonTransactionalDescription(statement) != nil
    }

    /// A short description (`CREATE INDEX CONCURRENTLY`, `VACUUM`) of a statement that cannot
    /// run inside a transaction block, or `nil`.
    public static func nonTransactionalDescription(_ s: SQLStatement) -> String? {
        concurrentlyToken(s).map { _ in
            if s.matches("CREATE") { return "CREATE INDEX CONCURRENTLY" }
            if s.matches("DROP") { return "DROP INDEX CONCURRENTLY" }
            if s.matches("REINDEX") { return "REINDEX CONCURRENTLY" }
            return "ALTER TABLE … DETACH PARTITION … CONCURRENTLY"
        } ?? otherNonTransactionalDescription(s)
    }

    /// The `CONCURRENTLY` keyword of `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX
    /// CONCURRENTLY`, `REINDEX … CONCURRENTLY` or `ALTER TABLE … DETACH PARTITION …
    /// CONCURRENTLY`, if the statement is one of those.
    public static func concurrentlyToken(_ s: SQLStatement) -> Token? {
        if s.matches("CREATE", "INDEX", "CONCURRENTLY") { return s[significant: 2] }
        if s.matches("CREATE", "UNIQUE", "INDEX", "CONCURRENTLY") { return s[significant: 3] }
        if s.matches("DROP", "INDEX", "CONCURRENTLY") { return s[significant: 2] }
        if s.matches("REINDEX"), let i = s.indexOf("CONCURRENTLY") { return s[significant: i] }
        if s.matches("ALTER", "TABLE"), s.indexOf("DETACH", "PARTITION") != nil,
           let i = s.indexOf("CONCURRENTLY") { return s[significant: i] }
        return nil
    }

    private static func otherNonTransactionalDescription(_ s: SQLStatement) -> String? {
        if s.matches("VACUUM") { return "VACUUM" }
        if s.matches("REINDEX", "DATABASE") { return "REINDEX DATABASE" }
        if s.matches("REINDEX", "SYSTEM") { return "REINDEX SYSTEM" }
        if s.matches("CREATE", "DATABASE") { return "CREATE DATABASE" }
        if s.matches("DROP", "DATABASE") { return "DROP DATABASE" }
        if s.matches("ALTER", "DATABASE"), s.indexOf("SET", "TABLESPACE") != nil { return "ALTER DATABASE … SET TABLESPACE" }
        if s.matches("ALTER", "SYSTEM") { return "ALTER SYSTEM" }
        if s.matches("CREATE", "TABLESPACE") { return "CREATE TABLESPACE" }
        if s.matches("DROP", "TABLESPACE") { return "DROP TABLESPACE" }
        if s.matches("CREATE", "SUBSCRIPTION") { return "CREATE SUBSCRIPTION" }
        if s.matches("DROP", "SUBSCRIPTION") { return "DROP SUBSCRIPTION" }
        if s.matches("DISCARD", "ALL") { return "DISCARD ALL" }
        if s.matches("COMMIT", "PREPARED") { return "COMMIT PREPARED" }
        if s.matches("ROLLBACK", "PREPARED") { return "ROLLBACK PREPARED" }
        if s.matches("CLUSTER") {
            // Only the argument-less form (cluster every previously clustered table):
            // `CLUSTER`, `CLUSTER VERBOSE`, `CLUSTER (VERBOSE)`.
            var rest = s.significantTokens.dropFirst()
            if rest.first?.isSymbol("(") == true, let close = rest.firstIndex(where: { $0.isSymbol(")") }) {
                rest = rest[(close + 1)...]
            }
            if rest.allSatisfy({ $0.isKeyword("VERBOSE") }) { return "CLUSTER" }
        }
        return nil
    }

    /// `true` for explicit transaction control a runner providing its own transaction must
    /// skip: `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT` (not
    /// `SAVEPOINT`, `ROLLBACK TO SAVEPOINT`, `COMMIT PREPARED`).
    public static func isTransactionControl(_ s: SQLStatement) -> Bool {
        isTransactionStart(s) || isTransactionEnd(s)
    }

    public static func isTransactionStart(_ s: SQLStatement) -> Bool {
        if s.matches("START", "TRANSACTION") { return true }
        guard s.matches("BEGIN") else { return false }
        // `BEGIN [WORK | TRANSACTION] [isolation …]`, never `BEGIN ATOMIC` (a function body).
        return !s.matches("BEGIN", "ATOMIC")
    }

    public static func isTransactionEnd(_ s: SQLStatement) -> Bool {
        if s.matches("COMMIT") { return !s.matches("COMMIT", "PREPARED") }
        if s.matches("END") || s.matches("ABORT") { return true }
        if s.matches("ROLLBACK") {
            return s.indexOf("TO") == nil && !s.matches("ROLLBACK", "PREPARED")
        }
        return false
    }

    /// `statements` without explicit transaction control.
    public static func strippingTransactionControl(_ statements: [SQLStatement]) -> [SQLStatement] {
        statements.filter { !isTransactionControl($0) }
    }

    /// The text of a comment without its delimiters, trimmed.
    static func commentBody(_ token: Token) -> String {
        var body = Substring(token.text)
        if body.hasPrefix("--") { body = body.dropFirst(2) }
        else if body.hasPrefix("/*") {
            body = body.dropFirst(2)
            if body.hasSuffix("*/") { body = body.dropLast(2) }
        }
        return String(body).trimmingCharacters()
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" || c == "\n" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" || c == "\n" { s = s.dropLast() }
        return s
    }

    func trimmingCharacters() -> String { String(trimmingSpaces()) }
}
