import BellowsSQL

/// Whether an `up` or `backfill` expression gives the same value when evaluated again: not
/// when it calls a volatile function (`random()`, `gen_random_uuid()`, `clock_timestamp()`,
/// `nextval()`…) or reads the transaction's clock (`now()`, `CURRENT_TIMESTAMP`…, stable within
/// a transaction, different in verify's). For such an expression verify and the rehearsal
/// cannot compare a row with a second evaluation; they check presence instead (the new column
/// is not NULL where `up` gives a value) and the constraints (docs/plans.md, "Volatile
/// expressions"). Pure.
public enum Repeatability {
    /// Built-in functions whose value differs between evaluations or transactions.
    public static let builtInFunctions: Set<String> = VolatileDefaultRule.volatileFunctions
        .union(["now", "transaction_timestamp", "statement_timestamp", "clock_timestamp", "timeofday"])
    /// SQL value keywords that read the transaction's clock (no parentheses).
    public static let clockKeywords: Set<String> = ["current_timestamp", "current_date", "current_time", "localtime", "localtimestamp"]

    /// Every function called in `expression` (lower-cased, unqualified): what the engine looks
    /// up in `pg_proc` for volatility.
    public static func calledFunctions(in expression: String) -> Set<String> {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        var names: Set<String> = []
        for (index, token) in tokens.enumerated() where token.kind == .word || token.kind == .quotedIdentifier {
            guard index + 1 < tokens.count, tokens[index + 1].isSymbol("(") else { continue }
            names.insert(token.kind == .word ? token.lower : String(token.text.dropFirst().dropLast()))
        }
        return names
    }

    /// The calls and keywords of `expression` that make it non-repeatable, each as the token
    /// where it is written; `volatile` adds functions the database knows as volatile.
    public static func nonRepeatable(in expression: String, volatile: Set<String> = []) -> [Token] {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        var found: [Token] = []
        for (index, token) in tokens.enumerated() where token.kind == .word {
            let call = index + 1 < tokens.count && tokens[index + 1].isSymbol("(")
            let after = index > 0 && tokens[index - 1].isSymbol(".")
            if call && (builtInFunctions.contains(token.lower) || volatile.contains(token.lower)) {
                found.append(token)
            } else if !call && !after && clockKeywords.contains(token.lower) {
                found.append(token)
            }
        }
        return found
    }

    /// SQL value keywords that name the writing session's role (no parentheses).
    public static let sessionKeywords: Set<String> = ["current_user", "session_user", "current_role", "user", "system_user"]
    /// Functions whose value is the writing session's: its connection, its backend, its
    /// settings (`current_setting` of a setting the trigger does not pin: `app.tenant`, a role).
    public static let sessionFunctions: Set<String> = ["current_setting", "inet_client_addr", "inet_client_port",
                                                       "pg_backend_pid", "current_query"]

    /// The calls and keywords of `expression` whose value depends on who writes (hostile-f 12):
    /// the trigger computes each writer's, the backfill its own session's, so the copy can never
    /// mean one thing. `current_setting` of a setting the trigger pins (`PhaseSQL
    /// .expressionSettings`, given as `pinned`) or `search_path` is the same for all and not one.
    public static func sessionDependent(in expression: String, pinned: Set<String>) -> [Token] {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        var found: [Token] = []
        for (index, token) in tokens.enumerated() where token.kind == .word {
            let call = index + 1 < tokens.count && tokens[index + 1].isSymbol("(")
            let after = index > 0 && tokens[index - 1].isSymbol(".")
            if call && sessionFunctions.contains(token.lower) {
                if token.lower == "current_setting", index + 2 < tokens.count, let name = tokens[index + 2].stringValue,
                   (pinned.union(["search_path"])).contains(name.lowercased()) { continue }
                found.append(token)
            } else if !call && !after && sessionKeywords.contains(token.lower) {
                found.append(token)
            }
        }
        return found
    }

    public static func isRepeatable(_ expression: String, volatile: Set<String> = []) -> Bool {
        nonRepeatable(in: expression, volatile: volatile).isEmpty
    }
}

extension Transition {
    /// Every function the targets' `up` expressions call.
    public var calledFunctions: Set<String> {
        Set(allTargets.compactMap(\.up).flatMap(Repeatability.calledFunctions(in:)))
    }

    /// Whether `target`'s `up` gives the same value on a second evaluation (see `Repeatability`).
    public func repeats(_ target: TransitionTarget) -> Bool {
        guard let up = target.up else { return true }
        return Repeatability.isRepeatable(up, volatile: volatileFunctions)
    }
}
