import BellowsSQL

/// One thing a plan says that the phases act on: `changes[1] alter email: rename_to = email_address`,
/// `checks[no_nulls]: sql = …`, `gates[app-ready]: before = contract`, `backfill: batch_size = 500`.
public struct PlanFact: Sendable, Hashable, Codable {
    /// Stable across edits that do not change it (changes by position, checks and gates by name).
    public var key: String
    /// The value, SQL expressions reduced to their tokens (whitespace and SQL comments dropped).
    public var value: String
    /// Where the value is written in its file.
    public var location: SourceLocation?
}

/// The plan as expanded (the text stored in `bellows.plans`) against its file as it is now.
public struct PlanRevision: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable, Codable {
        /// The same bytes.
        case identical
        /// Other bytes, the same transition: comments, formatting, the description, a gate's wording.
        case cosmetic
        /// The compiled transition differs: columns, types, expressions, constraints, checks, gates, backfill settings.
        case changed
    }

    /// A fact present on one side only, or with another value.
    public struct Difference: Sendable, Hashable, Codable {
        public var key: String
        /// nil: the file adds it.
        public var expanded: String?
        /// nil: the file no longer has it.
        public var current: String?
        /// In the file when it is there, else in the stored text.
        public var location: SourceLocation?

        /// `- key: old` / `+ key: new` lines, as `diff` would show them.
        public var lines: [String] {
            let place = location.map { " (\($0))" } ?? ""
            return (expanded.map { ["- \(key): \($0)"] } ?? []) + (current.map { ["+ \(key): \($0)\(place)"] } ?? [])
        }
    }

    public var verdict: Verdict
    /// What changed in what the plan says (empty unless `changed`).
    public var differences: [Difference]
    /// Phases whose rendered SQL differs (tokens compared), for a change `differences` does not name.
    public var phasesWithOtherSQL: [PhaseCommand]

    /// Compares the two plans through what the phases do with them: their facts and, compiled
    /// against `table` (the table as expand stored it), every phase's SQL. Pure.
    public static func compare(expanded: Plan, current: Plan, table: TableInfo?, searchPath: [String]? = nil) -> PlanRevision {
        if expanded.checksum == current.checksum {
            return PlanRevision(verdict: .identical, differences: [], phasesWithOtherSQL: [])
        }
        let differences = diff(facts(expanded), facts(current))
        var phases: [PhaseCommand] = []
        if let table {
            func compiled(_ plan: Plan) -> PhaseSQL? {
                guard var transition = TransitionCompiler.compile(plan, table: table).transition else { return nil }
                transition.searchPath = searchPath
                return PhaseSQL(transition)
            }
            let before = compiled(expanded), after = compiled(current)
            if let before, let after {
                phases = PhaseCommand.allCases.filter { phase in
                    before.statements(for: phase).map { tokens($0.sql) } != after.statements(for: phase).map { tokens($0.sql) }
                }
            } else if (before == nil) != (after == nil) {
                phases = PhaseCommand.allCases
            }
        }
        let same = differences.isEmpty && phases.isEmpty
        return PlanRevision(verdict: same ? .cosmetic : .changed, differences: differences, phasesWithOtherSQL: phases)
    }

    /// The diff's text: one `-`/`+` pair per changed fact, then the phases whose SQL differs.
    public var lines: [String] {
        differences.flatMap(\.lines) + phasesWithOtherSQL.map { "~ the SQL of \($0.rawValue) differs" }
    }

    // MARK: - Facts

    /// Every fact of the plan the phases act on, in file order. Not facts: the description, a
    /// gate's description, `depends_on` (read by expand alone), comments and formatting.
    public static func facts(_ plan: Plan) -> [PlanFact] {
        var facts = [PlanFact(key: "table", value: plan.table.value.description, location: plan.table.location)]
        for (index, change) in plan.changes.enumerated() {
            let head = "changes[\(index + 1)] \(change.kindName)"
            func add(_ key: String, _ value: String?, _ location: SourceLocation?) {
                if let value { facts.append(PlanFact(key: "\(head) \(key)", value: value, location: location)) }
            }
            func add(_ key: String, _ expression: PlanExpression?) { add(key, expression.map { tokens($0.text) }, expression?.location) }
            func add<T>(_ key: String, _ value: Located<T>?) { add(key, value.map { "\($0.value)" }, value?.location) }
            func attributes(_ column: String, _ a: ColumnAttributes) {
                add("\(column): not_null", a.notNull)
                add("\(column): default", a.defaultValue)
                add("\(column): drop_default", a.dropDefault)
                add("\(column): check", a.check)
                add("\(column): unique", a.unique)
                add("\(column): references", a.references.map {
                    "\($0.table.value)(\($0.column.value))" + ($0.onDelete.map { " on delete \($0.rawValue)" } ?? "")
                }, a.references?.location)
                add("\(column): comment", a.comment)
                add("\(column): comment", a.removesComment.map { _ in "null" }, a.removesComment)
            }
            switch change {
            case .alter(let c):
                add("column", c.column)
                add("\(c.column.value): rename_to", c.renameTo)
                add("\(c.column.value): type", c.type)
                add("\(c.column.value): up", c.up)
                add("\(c.column.value): down", c.down)
                attributes(c.column.value, c.attributes)
                if let carry = c.carry {
                    add("\(c.column.value): carry.unique", carry.unique)
                    add("\(c.column.value): carry.references", carry.references)
                    add("\(c.column.value): carry.checks", carry.checks)
                }
            case .add(let c):
                add("column", c.column)
                add("\(c.column.value): type", c.type)
                add("\(c.column.value): backfill", c.backfill)
                attributes(c.column.value, c.attributes)
            case .drop(let c):
                add("column", c.column)
                add("\(c.column.value): down", c.down)
            case .split(let c):
                add("column", c.column)
                for target in c.into {
                    add("into \(target.column.value): type", target.type)
                    add("into \(target.column.value): up", target.up)
                    attributes("into \(target.column.value)", target.attributes)
                }
                add("\(c.column.value): down", c.down)
            case .merge(let c):
                add("columns", c.columns.map(\.value).joined(separator: ", "), c.columns.first?.location)
                add("into", c.into)
                add("\(c.into.value): type", c.type)
                add("\(c.into.value): up", c.up)
                for column in c.down.keys.sorted() { add("down \(column)", c.down[column]) }
                attributes(c.into.value, c.attributes)
            }
        }
        for (index, change) in plan.constraintChanges.enumerated() {
            let head = "constraints[\(index + 1)] \(change.kindName)"
            func add(_ key: String, _ value: String, _ location: SourceLocation) {
                facts.append(PlanFact(key: "\(head)\(key)", value: value, location: location))
            }
            switch change {
            case .unique(let columns, _, let location):
                add("", columns.map(\.value).joined(separator: ", "), location)
            case .foreignKey(let columns, let reference, _, let location):
                add("", columns.map(\.value).joined(separator: ", "), location)
                add(": references", "\(reference.table.value)(\(reference.columns.map(\.value).joined(separator: ", ")))"
                    + (reference.onDelete.map { " on delete \($0.rawValue)" } ?? ""), reference.location)
            case .check(let expression, _, let location):
                add("", tokens(expression.text), location)
            case .drop(let name):
                add("", name.value, name.location)
            }
            if let name = change.givenName { add(": name", name.value, name.location) }
        }
        for check in plan.checks {
            facts.append(PlanFact(key: "checks[\(check.name.value)]: sql", value: tokens(check.sql.text), location: check.sql.location))
            facts.append(PlanFact(key: "checks[\(check.name.value)]: expect", value: check.expectation.description, location: check.expect.location))
        }
        for gate in plan.gates {
            facts.append(PlanFact(key: "gates[\(gate.name.value)]: before", value: gate.before.value.rawValue, location: gate.before.location))
        }
        let b = plan.backfill
        let settings: [(String, String?)] = [
            ("batch_size", "\(b.batchSize)"), ("target_batch_ms", "\(b.targetBatchMilliseconds)"), ("pause_ms", "\(b.pauseMilliseconds)"),
            ("lock_timeout_ms", "\(b.lockTimeoutMilliseconds)"), ("statement_timeout_ms", "\(b.statementTimeoutMilliseconds)"),
            ("retries", "\(b.retries)"), ("max_replica_lag_ms", b.maxReplicaLagMilliseconds.map { "\($0)" }),
            ("vacuum_every_rows", b.vacuumEveryRows.map { "\($0)" }), ("pacing", b.pacing.rawValue),
            ("gentle_batch_ms", "\(b.gentleBatchMilliseconds)"), ("gentle_rest_percent", "\(b.gentleRestPercent)"),
            ("workers", "\(b.workers)"),
        ]
        for (key, value) in settings {
            facts.append(PlanFact(key: "backfill: \(key)", value: value ?? "(none)", location: nil))
        }
        if let move = plan.moveColumns {
            facts.append(PlanFact(key: "move_columns: to", value: move.to.value.description, location: move.to.location))
            facts.append(PlanFact(key: "move_columns: columns", value: move.columns.map(\.value).joined(separator: ", "), location: move.columns.first?.location))
        }
        return facts
    }

    /// Facts by key: changed values, then removed and added ones, in the file's order.
    static func diff(_ old: [PlanFact], _ new: [PlanFact]) -> [Difference] {
        let oldByKey = Dictionary(old.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let newKeys = Set(new.map(\.key))
        var out: [Difference] = []
        for fact in new where oldByKey[fact.key]?.value != fact.value {
            out.append(Difference(key: fact.key, expanded: oldByKey[fact.key]?.value, current: fact.value, location: fact.location))
        }
        for fact in old where !newKeys.contains(fact.key) {
            out.append(Difference(key: fact.key, expanded: fact.value, current: nil, location: fact.location))
        }
        return out
    }

    /// The SQL's significant tokens, one space apart: whitespace and comments do not count.
    static func tokens(_ sql: String) -> String {
        Lexer.tokenize(sql).filter(\.isSignificant).map(\.text).joined(separator: " ")
    }
}
