import BellowsSQL
import Foundation

/// Offline consistency checks of plans: each on its own and all together, against the schema
/// the migrations build. Pure: no database, no file system.
public enum PlanValidator {
    public static func validate(plans: [Plan], migrationNames: [String], catalog: SchemaCatalog?) -> [Finding] {
        var findings: [Finding] = []
        for plan in plans { findings += validate(plan, catalog: catalog) }
        findings += crossPlan(plans, migrationNames: migrationNames)
        return findings
    }

    // MARK: One plan

    /// `database` names the live database `catalog` was read from (nil: the migrations').
    /// `compiled`: the findings of compiling `plan` against `catalog`'s table, when the caller
    /// has them (`PlanChain.Base.compiled`); nil compiles it here.
    public static func validate(_ plan: Plan, catalog: SchemaCatalog?, database: String? = nil, compiled: [Finding]? = nil) -> [Finding] {
        var findings: [Finding] = []
        func add(_ location: SourceLocation, _ severity: Severity, _ rule: String, _ message: String) {
            findings.append(Finding(at: location, severity: severity, rule: rule, message: message))
        }
        let fileStart = SourceLocation(file: plan.file, line: 1, column: 1)
        if !PlanNaming.isWellFormed(plan.id) {
            add(fileStart, .error, "plan-file-name", "plan file \"\(plan.id)\" must be named NNN_description.yaml (three or more digits, then snake_case)")
        }

        // A collation in `type`: the new column would get it beside the one carried from the old
        // column (42601 "multiple COLLATE clauses"), or strand the plan after expand (hostile-e 03).
        var types: [Located<String>] = []
        for change in plan.changes {
            switch change {
            case .alter(let c): types += c.type.map { [$0] } ?? []
            case .add(let c): types.append(c.type)
            case .split(let c): types += c.into.map(\.type)
            case .merge(let c): types.append(c.type)
            case .drop: break
            }
        }
        for type in types where Lexer.tokenize(type.value).contains(where: { $0.isKeyword("COLLATE") }) {
            add(type.location, .error, "plan-type-collation",
                "'type' names a collation (\(type.value)): a plan cannot change a column's collation yet (the old column's is carried to the new one); give the type alone, and change the collation with a migration")
        }

        // Identifiers: length, reserved names.
        var identifiers: [Located<String>] = []
        identifiers.append(Located(plan.table.value.name, at: plan.table.location))
        if let schema = plan.table.value.schema {
            identifiers.append(Located(schema, at: plan.table.location))
            if schema == "bellows" { add(plan.table.location, .error, "plan-reserved-name", "schema \"bellows\" holds Bellows' own state; plans cannot change it") }
        }
        for change in plan.changes {
            switch change {
            case .alter(let c): identifiers += [c.column] + (c.renameTo.map { [$0] } ?? [])
            case .add(let c): identifiers.append(c.column)
            case .drop(let c): identifiers.append(c.column)
            case .split(let c): identifiers += [c.column] + c.into.map(\.column)
            case .merge(let c): identifiers += c.columns + [c.into]
            }
        }
        for change in plan.constraintChanges {
            switch change {
            case .unique(let columns, _, _): identifiers += columns
            case .foreignKey(let columns, let reference, _, _): identifiers += columns + reference.columns
            case .check, .drop: break
            }
        }
        if let move = plan.moveColumns {
            identifiers += move.columns + [Located(move.to.value.name, at: move.to.location)]
            if move.to.value.schema == "bellows" { add(move.to.location, .error, "plan-reserved-name", "schema \"bellows\" holds Bellows' own state; a move cannot create its table there") }
        }
        for identifier in identifiers {
            let bytes = identifier.value.utf8.count
            if bytes > TransitionNames.maximumIdentifierBytes {
                add(identifier.location, .error, "plan-identifier-too-long",
                    "\"\(identifier.value)\" is \(bytes) bytes; PostgreSQL truncates identifiers to 63 bytes")
            } else if TransitionNames.reservedPrefix.utf8.count + bytes > TransitionNames.maximumIdentifierBytes {
                add(identifier.location, .warning, "plan-identifier-too-long",
                    "\"\(identifier.value)\" leaves no room for Bellows' transition names (\(TransitionNames.reservedPrefix)…, 63 bytes): they will be shortened, with a hash of the full name")
            }
            if identifier.value.hasPrefix(TransitionNames.reservedPrefix) {
                add(identifier.location, .error, "plan-reserved-name",
                    "names starting with \(TransitionNames.reservedPrefix) are reserved for Bellows' transition columns, triggers and constraints")
            }
        }

        // Columns changed twice within the plan: an existing column read or replaced by two
        // changes, or a name two changes leave a column under. One change may take a name
        // another moves away or drops (a swap, `a` → `b` and `b` → `a`): expand builds the new
        // column under a `_bellows_` shadow name and contract renames it once the old is dropped.
        var seen: [String: SourceLocation] = [:]
        var finals: [String: SourceLocation] = [:]
        for change in plan.changes {
            for column in change.existingColumns {
                if let first = seen[column] {
                    add(change.location, .error, "plan-column-conflict", "column \"\(column)\" is already changed at \(first.line):\(first.column) of this plan")
                } else {
                    seen[column] = change.location
                }
            }
            for column in change.finalColumns {
                if let first = finals[column] {
                    add(change.location, .error, "plan-column-conflict", "column \"\(column)\" is already the result of the change at \(first.line):\(first.column) of this plan")
                } else {
                    finals[column] = change.location
                }
            }
        }

        // up/down where a change needs them; lossy downs.
        for change in plan.changes {
            switch change {
            case .alter(let c):
                if c.type != nil && c.up == nil {
                    add(c.type?.location ?? c.column.location, .error, "plan-missing-up",
                        "a type change needs 'up': the expression computing the new value from \"\(c.column.value)\"")
                }
                let createsColumn = c.renameTo != nil || c.type != nil
                if createsColumn, c.up != nil, c.down == nil {
                    add(c.up?.location ?? c.column.location, .error, "plan-missing-down",
                        "with 'up', give 'down' too: old code reads \"\(c.column.value)\", which writes through \"\(c.finalName)\" must keep filling")
                }
                if !createsColumn, c.down != nil {
                    add(c.down?.location ?? c.column.location, .error, "plan-unused-down",
                        "'down' has no effect on an in-place change of \"\(c.column.value)\": there is no second column to fill; remove it")
                }
                if !createsColumn, let up = c.up {
                    add(up.location, .info, "plan-one-way", "'up' rewrites \"\(c.column.value)\" in place: rollback restores the table's shape, not the old values")
                }
                if c.attributes.notNull?.value == true, !createsColumn, c.up == nil {
                    add(c.attributes.notNull?.location ?? c.column.location, .warning, "plan-not-null-without-up",
                        "existing NULLs in \"\(c.column.value)\" will fail verify; give 'up' (e.g. coalesce(\(c.column.value), …)) to fill them")
                }
                if let down = c.down, isLossy(down.text) {
                    add(down.location, .warning, "plan-lossy-down",
                        "'down' may lose data (it narrows or cuts values): old code will see changed values for writes that do not fit")
                }
                if let carry = c.carry {
                    if !createsColumn {
                        add(carry.location, .error, "plan-invalid-value",
                            "'carry' says what a rebuilt column (rename_to or type) inherits; an in-place change keeps its column's constraints: drop one with drop_constraint")
                    }
                    if carry.unique?.value == false, let unique = c.attributes.unique, unique.value {
                        add(unique.location, .error, "plan-invalid-value", "'unique: true' contradicts 'carry: {unique: false}'; keep one")
                    }
                    if carry.references?.value == false, let references = c.attributes.references {
                        add(references.location, .error, "plan-invalid-value",
                            "'references' gives the new column its foreign key; 'carry: {references: false}' says it has none: keep one")
                    }
                }
            case .split(let c):
                if let down = c.down, isLossy(down.text) {
                    add(down.location, .warning, "plan-lossy-down", "'down' may lose data (it narrows or cuts values)")
                }
            case .merge(let c):
                for column in c.columns where c.down[column.value] == nil {
                    add(c.into.location, .error, "plan-missing-down", "a merge needs 'down.\(column.value)' to rebuild \"\(column.value)\" for old code")
                }
            case .add(let c):
                // Old code does not know the column: with neither a default nor a backfill (whose
                // trigger fills old code's inserts too) every insert of it fails from expand on,
                // and existing rows stay NULL, so verify could never pass (hostile-d 40).
                if let notNull = c.attributes.notNull, notNull.value, c.attributes.defaultValue == nil, c.backfill == nil {
                    add(notNull.location, .error, "plan-missing-default",
                        "\"\(c.column.value)\" is to be NOT NULL, but old code does not know it and inserts rows without it: from expand on every such insert would fail, and existing rows would stay NULL. Give it a 'default' (old code's inserts and existing rows take it), or a 'backfill' expression (it fills existing rows, and old code's inserts during the transition); or add it without not_null and make it NOT NULL in a later plan (alter: \(c.column.value), not_null: true) once every writer sets it")
                }
            case .drop:
                break
            }
        }

        // Keys that would do nothing: every accepted key does what it says, or is refused here.
        func attributes(_ a: ColumnAttributes, newColumn: Bool) {
            guard let drop = a.dropDefault, drop.value else { return }
            if a.defaultValue != nil {
                add(drop.location, .error, "plan-no-effect", "'drop_default: true' and 'default:' contradict each other: keep one")
            } else if newColumn {
                add(drop.location, .error, "plan-no-effect", "'drop_default: true' on a new column changes nothing: it has no default to drop; remove it")
            }
        }
        for change in plan.changes {
            switch change {
            case .alter(let c): attributes(c.attributes, newColumn: false)
            case .add(let c): attributes(c.attributes, newColumn: true)
            case .split(let c): for t in c.into { attributes(t.attributes, newColumn: true) }
            case .merge(let c): attributes(c.attributes, newColumn: true)
            case .drop: break
            }
        }

        // Every SQL expression: one well-formed expression.
        for expression in expressions(of: plan) {
            for problem in ExpressionCheck.problems(in: expression.value.text) {
                add(expression.value.sourceLocation(line: problem.line, column: problem.column), .error, "plan-expression",
                    "\(expression.key): \(problem.message)")
            }
            // Bellows embeds expressions in longer statements (`(up)::type`, `CHECK (…)`, the
            // trigger's SELECT): a `--` comment would swallow whatever follows it on the line.
            for token in expression.value.text.contains("--") ? Lexer.tokenize(expression.value.text) : []
            where token.kind == .comment && token.text.hasPrefix("--") {
                add(expression.value.sourceLocation(line: token.line, column: token.column), .error, "plan-expression",
                    "\(expression.key): a '--' comment would comment out the rest of the SQL Bellows builds around the expression; use /* */")
            }
            if ["up", "backfill", "down"].contains(expression.key),
               let token = Repeatability.sessionDependent(in: expression.value.text, pinned: Set(PhaseSQL.expressionSettings)).first {
                let call = token.lower + (Repeatability.sessionKeywords.contains(token.lower) ? "" : "()")
                add(expression.value.sourceLocation(line: token.line, column: token.column), .error, "plan-session-up",
                    "\(expression.key): \(call) is the writing session's (its role, connection or settings): the trigger would compute each writer's value and the backfill the value of the session that runs it, so the new column could never mean one thing and verify could not tell. Have the application write the value (an 'add' without backfill, or 'backfill' from stored columns), or store what the session knows in a column first")
            } else if expression.key == "up" || expression.key == "backfill",
               let token = Repeatability.nonRepeatable(in: expression.value.text).first {
                let call = token.lower + (Repeatability.clockKeywords.contains(token.lower) ? "" : "()")
                add(expression.value.sourceLocation(line: token.line, column: token.column), .info, "plan-volatile-up",
                    "\(expression.key): \(call) gives another value each time it is evaluated, so verify and the rehearsal cannot compare a row with a second evaluation: they check that the new column is filled wherever \(expression.key) gives a value, and its constraints (docs/plans.md, \"Volatile expressions\")")
            }
            if expression.key == "default",
               !Repeatability.calledFunctions(in: expression.value.text).isDisjoint(with: VolatileDefaultRule.volatileFunctions) {
                add(expression.value.location, .warning, "plan-volatile-default",
                    "a volatile default is evaluated per row: give it at contract only, or use a constant")
            }
        }

        // Names must be unique among checks and gates.
        var checkNames: Set<String> = []
        for check in plan.checks where !checkNames.insert(check.name.value).inserted {
            add(check.name.location, .error, "plan-duplicate-name", "check \"\(check.name.value)\" is defined twice")
        }
        var gateNames: Set<String> = []
        for gate in plan.gates where !gateNames.insert(gate.name.value).inserted {
            add(gate.name.location, .error, "plan-duplicate-name", "gate \"\(gate.name.value)\" is defined twice")
        }

        // Against the schema the migrations build.
        if let catalog {
            if let table = catalog.table(plan.table.value), plan.moveColumns != nil {
                findings += compiled ?? MoveCompiler.compile(plan, table: table, catalog: catalog).findings
            } else if let table = catalog.table(plan.table.value) {
                findings += compiled ?? TransitionCompiler.compile(plan, table: table).findings
                if let rename = plan.renameTableTo, catalog.table(TableName(schema: table.schema, name: rename.value)) != nil {
                    add(rename.location, .error, "plan-table-exists",
                        "table \(table.schema).\(rename.value) already exists\(database == nil ? " after the migrations" : ""): 'rename_table_to' needs a free name")
                }
                findings += unknownHintColumns(plan, table: table)
            } else {
                add(plan.table.location, .warning, "plan-unknown-table", database.map { "the \($0) has no table \(plan.table.value); it cannot be checked against the schema" }
                    ?? "no migration creates table \(plan.table.value); it cannot be checked against the schema")
            }
        }
        return findings
    }

    /// A `rehearse: values:` key names a column of the table (as the migrations and earlier
    /// plans leave it) or one the plan creates (by its final name); any other is a typo the
    /// rehearsal would silently ignore (hostile-d 14).
    static func unknownHintColumns(_ plan: Plan, table: TableInfo) -> [Finding] {
        let known = table.columns.map(\.name) + plan.changes.flatMap(\.createdColumns)
        return plan.rehearsalValues.compactMap { hint -> Finding? in
            guard !known.contains(hint.column.value) else { return nil }
            var message = "rehearse.values names \"\(hint.column.value)\", which is neither a column of \(table.schema).\(table.name) nor one the plan creates: the rehearsal would ignore the hint"
            if let s = Suggestion.closest(to: hint.column.value, in: known) { message += "; did you mean \"\(s)\"?" }
            return Finding(at: hint.column.location, severity: .error, rule: "plan-unknown-column", message: message)
        }
    }

    static func isLossy(_ expression: String) -> Bool {
        let text = expression.lowercased().replacingOccurrences(of: " ", with: "")
        if text.contains("left(") || text.contains("substr(") || text.contains("substring(") || text.contains("trunc(") || text.contains("round(") { return true }
        // A cast to a bounded type: ::varchar(n), ::char(n), ::numeric(p,s), ::smallint, ::int.
        // (Spaces are gone: `character varying` reads `charactervarying`.)
        for bounded in ["charactervarying(", "varchar(", "char(", "character(", "bpchar(", "numeric(", "decimal("] {
            var rest = Substring(text)
            while let cast = rest.range(of: "::" + bounded) {
                if rest[cast.upperBound...].first?.isNumber == true { return true }
                rest = rest[cast.upperBound...]
            }
        }
        return text.hasSuffix("::smallint") || text.hasSuffix("::int2") || text.hasSuffix("::integer") || text.hasSuffix("::int4")
    }

    /// Every SQL expression of a plan, with its key.
    public static func expressions(of plan: Plan) -> [(key: String, value: PlanExpression)] {
        var result: [(key: String, value: PlanExpression)] = []
        func attributes(_ a: ColumnAttributes) {
            if let e = a.defaultValue { result.append(("default", e)) }
            if let e = a.check { result.append(("check", e)) }
        }
        for change in plan.changes {
            switch change {
            case .alter(let c):
                if let e = c.up { result.append(("up", e)) }
                if let e = c.down { result.append(("down", e)) }
                attributes(c.attributes)
            case .add(let c):
                if let e = c.backfill { result.append(("backfill", e)) }
                attributes(c.attributes)
            case .drop(let c):
                if let e = c.down { result.append(("down", e)) }
            case .split(let c):
                for t in c.into { result.append(("up", t.up)); attributes(t.attributes) }
                if let e = c.down { result.append(("down", e)) }
            case .merge(let c):
                result.append(("up", c.up))
                for (_, e) in c.down.sorted(by: { $0.key < $1.key }) { result.append(("down", e)) }
                attributes(c.attributes)
            }
        }
        for change in plan.constraintChanges {
            if case .check(let expression, _, _) = change { result.append(("add_check", expression)) }
        }
        for check in plan.checks { result.append(("sql", check.sql)) }
        return result
    }

    // MARK: All plans together

    /// The checks of all plans together: numbers, dependencies, columns two plans change.
    public static func crossPlan(_ plans: [Plan], migrationNames: [String], table: (Plan) -> TableInfo? = { _ in nil }) -> [Finding] {
        var findings: [Finding] = []
        let byNumber = Dictionary(grouping: plans.filter { $0.number != nil }, by: { $0.number ?? 0 })
        for (number, group) in byNumber.sorted(by: { $0.key < $1.key }) where group.count > 1 {
            for plan in group.dropFirst() {
                findings.append(Finding(file: plan.file, line: 1, column: 1, severity: .error, rule: "plan-duplicate-number",
                                        message: "sequence number \(String(format: "%03d", number)) is also used by \(group[0].id)"))
            }
        }
        /// A stem, or a sequence number standing for the first stem with that number.
        struct Stems {
            let names: Set<String>
            let byNumber: [Int: String]
            init(_ stems: [String]) {
                names = Set(stems)
                var numbers: [Int: String] = [:]
                for stem in stems { if let n = PlanNaming.sequenceNumber(of: stem), numbers[n] == nil { numbers[n] = stem } }
                byNumber = numbers
            }
        }
        func resolve(_ reference: String, among stems: Stems) -> String? {
            if stems.names.contains(reference) { return reference }
            if let number = Int(reference) { return stems.byNumber[number] }
            return nil
        }
        let ids = plans.map(\.id)
        let planStems = Stems(ids), migrationStems = Stems(migrationNames)
        var edges: [String: Set<String>] = [:]
        for plan in plans {
            for dependency in plan.dependsOn.plans {
                guard let target = resolve(dependency.value, among: planStems) else {
                    var message = "plan \"\(dependency.value)\" does not exist"
                    if let s = Suggestion.closest(to: dependency.value, in: ids) { message += "; did you mean \"\(s)\"?" }
                    findings.append(Finding(at: dependency.location, severity: .error, rule: "plan-missing-dependency", message: message))
                    continue
                }
                edges[plan.id, default: []].insert(target)
                if target >= plan.id {
                    findings.append(Finding(at: dependency.location, severity: .error, rule: "plan-dependency-order",
                                            message: "plan \(plan.id) depends on \(target), which does not come earlier"))
                }
            }
            for dependency in plan.dependsOn.migrations where resolve(dependency.value, among: migrationStems) == nil {
                var message = "migration \"\(dependency.value)\" does not exist in migrations/"
                if let s = Suggestion.closest(to: dependency.value, in: migrationNames) { message += "; did you mean \"\(s)\"?" }
                findings.append(Finding(at: dependency.location, severity: .error, rule: "plan-missing-dependency", message: message))
            }
        }
        // Everything each plan depends on, directly or not: one walk per plan asked about, over
        // plan indexes (a chain of hundreds of plans is common, and cheap this way).
        let index = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let dependencies = ids.map { id in (edges[id] ?? []).compactMap { index[$0] }.sorted() }
        var reachable: [Int: [Bool]] = [:]
        func reaches(_ from: Int, _ to: Int) -> Bool {
            if let known = reachable[from] { return known[to] }
            var visited = [Bool](repeating: false, count: plans.count)
            var stack = [from]
            while let node = stack.popLast() {
                for next in dependencies[node] where !visited[next] {
                    visited[next] = true
                    stack.append(next)
                }
            }
            reachable[from] = visited
            return visited[to]
        }
        // Two plans changing the same column must be ordered by a dependency. Only plans on the
        // same table can share a column: compare within each table, each plan's columns built once.
        let touched = plans.map { Set($0.changes.flatMap(\.touchedColumns)) }
        let byTable = Dictionary(grouping: plans.indices) { "\(plans[$0].table.value.effectiveSchema).\(plans[$0].table.value.name)" }
        for key in byTable.keys.sorted() {
            let group = byTable[key] ?? []
            for (position, i) in group.enumerated() {
                // Different columns that share an index or constraint (hostile-d 13): the
                // objects over plan i's columns, found once for every plan j.
                var objects: (table: TableInfo, shared: PlanColumns.SharedObjects)?
                for j in group[(position + 1)...] where touched[i].isDisjoint(with: touched[j]) {
                    guard !reaches(i, j), !reaches(j, i) else { continue }
                    if objects == nil, let table = table(plans[i]) { objects = (table, PlanColumns.SharedObjects(in: table, touched[i])) }
                    guard let table = objects?.table, let shared = objects?.shared.with(touched[j]) else { continue }
                    guard !shared.isEmpty else { continue }
                    let (a, b) = (plans[i], plans[j])
                    let location = b.changes.first { !Set($0.touchedColumns).isDisjoint(with: table.columns.map(\.name)) }?.location ?? b.table.location
                    findings.append(Finding(at: location, severity: .error, rule: "plan-column-conflict",
                        message: "\(b.id) and \(a.id) change columns of \(b.table.value) that share \(shared.joined(separator: ", ")): each rebuilds it over its own new column, and the first contract would drop the other's copy; make one depend on the other"))
                }
                for j in group[(position + 1)...] where !touched[i].isDisjoint(with: touched[j]) {
                    guard !reaches(i, j), !reaches(j, i) else { continue }
                    let (a, b) = (plans[i], plans[j])
                    let shared = touched[i].intersection(touched[j])
                    let location = b.changes.first { !Set($0.touchedColumns).isDisjoint(with: shared) }?.location ?? b.table.location
                    findings.append(Finding(at: location, severity: .error, rule: "plan-column-conflict",
                        message: "\(b.id) and \(a.id) both change \(b.table.value).\(shared.sorted().joined(separator: ", ")); make one depend on the other"))
                }
            }
        }
        return findings
    }
}
