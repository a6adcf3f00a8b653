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
    /// `-- Contracted Plans: 001_a, 002_b` (written by `bellows baseline`): plans contracted on
    /// the database before its schema was captured, whose changes the file already holds.
    public var contractedPlans: [String] = []

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
                case "contracted plans":
                    header.contractedPlans += value.split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
                case "dependencies", "depends on", "depends-on":
                    let items = value.split(separator: ",").map { dependencyName(String($0).trimmingCharacters()) }.filter { !$0.isEmpty }
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

    /// A dependency as written (`001_t`, `001_t.sql`, `migrations/001_t.sql`) as a migration name.
    static func dependencyName(_ item: String) -> String {
        guard !asciiLowercased(item).hasPrefix("plan:") else { return item }
        var name = Substring(item)
        if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
        if asciiLowercased(String(name)).hasSuffix(".sql") { name = name.dropLast(4) }
        return String(name)
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
        // `REINDEX … CONCURRENTLY` and the option form `REINDEX (CONCURRENTLY [true]) …`.
        if s.matches("REINDEX"), let i = s.indexOf("CONCURRENTLY", topLevelOnly: false),
           !(s[significant: i + 1].map { $0.isKeyword("FALSE") || $0.isKeyword("OFF") || $0.text == "0" } ?? false) {
            return s[significant: i]
        }
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

/// A located reason to refuse a migration file before any of it runs. The runner refuses
/// the file; the linter reports the same problem under `rule`.
public struct MigrationFileProblem: Sendable, Hashable {
    /// The lint rule that reports it.
    public var rule: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(rule: String, line: Int, column: Int, message: String) {
        self.rule = rule
        self.line = line
        self.column = column
        self.message = message
    }
}

extension MigrationFile {
    /// Everything that makes the runner refuse a file: NUL characters, transaction control
    /// it cannot honour, `COPY … FROM STDIN`/`TO STDOUT`, no statement at all.
    public static func problems(_ text: String, analysis: MigrationAnalysis) -> [MigrationFileProblem] {
        var found = nulProblems(text)
        guard found.isEmpty else { return found }
        if analysis.statements.isEmpty {
            found.append(MigrationFileProblem(rule: EmptyMigrationRule.id, line: 1, column: 1,
                message: "the file has no SQL statement; applying it would record a migration that does nothing (a forgotten save, a wrong file?)"))
        }
        return found + transactionControlProblems(analysis) + copyProblems(analysis)
    }

    public static let nulRule = "nul-byte"

    /// A NUL character ends the text libpq sends: the server would run only what comes
    /// before it, while the linter and `--dry-run` show the whole statement.
    public static func nulProblems(_ text: String) -> [MigrationFileProblem] {
        var line = 1, column = 1
        var found: [MigrationFileProblem] = []
        for scalar in text.unicodeScalars {
            if scalar == "\0" {
                found.append(MigrationFileProblem(rule: nulRule, line: line, column: column,
                    message: "a NUL byte: libpq ends the statement there, so the server would run a truncated statement (e.g. a DELETE without its WHERE); remove it"))
            }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return found
    }

    public static let transactionControlRule = "file-transaction-control"

    /// `SAVEPOINT`, `RELEASE [SAVEPOINT]`, `ROLLBACK … TO [SAVEPOINT]`.
    public static func isSavepointControl(_ s: SQLStatement) -> Bool {
        s.matches("SAVEPOINT") || s.matches("RELEASE") || (s.matches("ROLLBACK") && s.indexOf("TO") != nil)
    }

    /// `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED`.
    public static func isTwoPhaseControl(_ s: SQLStatement) -> Bool {
        s.matches("PREPARE", "TRANSACTION") || s.matches("COMMIT", "PREPARED") || s.matches("ROLLBACK", "PREPARED")
    }

    /// `ROLLBACK`/`ABORT` (not `ROLLBACK TO`, not `ROLLBACK PREPARED`).
    static func isRollback(_ s: SQLStatement) -> Bool {
        (s.matches("ROLLBACK") || s.matches("ABORT")) && isTransactionEnd(s)
    }

    /// `COMMIT AND CHAIN` / `END AND CHAIN`: ends a transaction and starts the next.
    static func chains(_ s: SQLStatement) -> Bool {
        s.indexOf("AND", "CHAIN") != nil && !s.contains("AND", "NO", "CHAIN")
    }

    /// The file's own transaction control that the runner cannot honour exactly.
    ///
    /// - A transactional file runs in one transaction with its ledger row. A `BEGIN`/`START
    ///   TRANSACTION` as its first statement opens that transaction (its options kept) and a
    ///   `COMMIT`/`END` as its last statement ends it; `SAVEPOINT`, `RELEASE` and `ROLLBACK TO`
    ///   run as written. Any other `BEGIN`/`COMMIT`, and every `ROLLBACK`/`ABORT`, is refused.
    /// - A non-transactional file runs statement by statement; an explicit `BEGIN … COMMIT`
    ///   block runs as one transaction, as in psql. `ROLLBACK`, nested or unclosed blocks,
    ///   savepoints outside a block, and concurrent statements inside one are refused.
    /// - Two-phase commit statements are refused everywhere.
    public static func transactionControlProblems(_ analysis: MigrationAnalysis) -> [MigrationFileProblem] {
        var found: [MigrationFileProblem] = []
        func refuse(_ s: SQLStatement, _ message: String, rule: String = transactionControlRule) {
            found.append(MigrationFileProblem(rule: rule, line: s.line, column: s.column, message: message))
        }
        let statements = analysis.statements
        for s in statements where isTwoPhaseControl(s) {
            refuse(s, "`\(s.verb)` (two-phase commit) has no place in a migration: the runner could not record what it did")
        }
        for s in statements where isRollback(s) {
            refuse(s, "the file's own `\(s.significantTokens.first?.upper ?? "ROLLBACK")` would undo what the file did before it, while the runner would record the file as applied (psql would have discarded those changes and run the rest outside a transaction); remove the statements you do not want applied instead")
        }
        if analysis.transactionMode.isTransactional {
            for (i, s) in statements.enumerated() {
                if isTransactionStart(s), i != 0 {
                    refuse(s, "`\(s.verb)` after the first statement: Bellows runs a transactional file in one transaction with its ledger row, so a second transaction inside it cannot keep its meaning; split the file into one migration per transaction (or start it with this BEGIN)")
                } else if isTransactionEnd(s), !isRollback(s) {
                    if i != statements.count - 1 || !(statements.first.map(isTransactionStart) ?? false) {
                        refuse(s, "`\(s.verb)` that does not close a BEGIN at the start of the file: Bellows runs a transactional file in one transaction with its ledger row, so a COMMIT here cannot keep its meaning; split the file into one migration per transaction")
                    } else if chains(s) {
                        refuse(s, "`\(s.verb)` starts another transaction after the file's; remove AND CHAIN")
                    }
                }
            }
            return found
        }
        var open: SQLStatement?
        for s in statements {
            if isTransactionStart(s) {
                if open != nil { refuse(s, "`\(s.verb)` inside a transaction block the file already opened (PostgreSQL would only warn and go on in the first one); remove it") }
                open = s
            } else if isTransactionEnd(s), !isRollback(s) {
                if open == nil { refuse(s, "`\(s.verb)` without a BEGIN before it: there is no transaction to commit; remove it") }
                if chains(s) { refuse(s, "`\(s.verb)` starts another transaction; remove AND CHAIN") }
                open = nil
            } else if isSavepointControl(s), open == nil {
                refuse(s, "`\(s.verb)` outside a BEGIN … COMMIT block: a savepoint needs a transaction block; remove it or put it inside the block")
            } else if open != nil, isNonTransactional(s) {
                refuse(s, "`\(nonTransactionalDescription(s) ?? s.verb)` inside the file's BEGIN … COMMIT block cannot run in a transaction block (psql fails on it); remove the BEGIN and COMMIT around it",
                       rule: "concurrent-in-transaction")
            }
        }
        if let open {
            refuse(open, "`\(open.verb)` opens a transaction block the file never commits: psql would roll it back at the end, Bellows would not know whether to; add a COMMIT or remove the BEGIN")
        }
        return found
    }

    public static let copyRule = "copy-stdin"

    /// `COPY … FROM STDIN` needs data the runner does not send (psql reads it from the lines
    /// after the statement); `COPY … TO STDOUT` sends rows nobody reads.
    public static func copyProblems(_ analysis: MigrationAnalysis) -> [MigrationFileProblem] {
        analysis.statements.compactMap { s in
            guard s.matches("COPY") else { return nil }
            if let from = s.indexOf("FROM"), s[significant: from + 1]?.isKeyword("STDIN") == true {
                return MigrationFileProblem(rule: copyRule, line: s.line, column: s.column,
                    message: "`COPY … FROM STDIN` reads its rows from the client, and the runner has none to send (psql takes them from the lines after it); load the rows with INSERT … VALUES, or COPY FROM a file the server can read")
            }
            if let to = s.indexOf("TO"), s[significant: to + 1]?.isKeyword("STDOUT") == true {
                return MigrationFileProblem(rule: copyRule, line: s.line, column: s.column,
                    message: "`COPY … TO STDOUT` sends rows to the client, and the runner does not read them; remove it")
            }
            return nil
        }
    }
}
