import BellowsSQL
import Foundation
import Yams

/// The outcome of loading one plan file: the plan when it could be built, and every finding.
public struct PlanLoadResult: Sendable {
    public var plan: Plan?
    public var findings: [Finding]
}

/// Loads plan files strictly: unknown keys (with a suggestion), wrong types and missing keys
/// are all reported with file:line:column, and loading goes on to find the rest.
public enum PlanLoader {
    static let topLevelKeys = ["table", "description", "depends_on", "changes", "checks", "gates", "backfill", "rehearse", "versioned_schemas", "strategy", "archive", "rename_table_to", "move_columns"]
    static let attributeKeys = ["not_null", "default", "drop_default", "check", "unique", "references", "comment"]
    static let alterKeys = ["alter", "rename_to", "type", "up", "down", "carry"] + attributeKeys
    static let addKeys = ["add", "type", "backfill"] + attributeKeys
    static let dropKeys = ["drop", "down"]
    static let splitKeys = ["split", "into", "down"]
    static let splitTargetKeys = ["column", "type", "up"] + attributeKeys
    static let mergeKeys = ["merge", "into", "type", "up", "down"] + attributeKeys
    static let columnChangeKinds = ["alter", "add", "drop", "split", "merge"]
    static let constraintChangeKinds = ["add_unique", "add_foreign_key", "add_check", "drop_constraint"]
    static let changeKinds = columnChangeKinds + constraintChangeKinds
    static let backfillKeys = ["batch_size", "target_batch_ms", "pause_ms", "lock_timeout_ms",
                               "statement_timeout_ms", "retries", "max_replica_lag_ms", "vacuum_every_rows",
                               "pacing", "gentle_batch_ms", "gentle_rest_percent", "workers"]

    /// Plans larger than this are refused before parsing: no plan is this big, and it keeps
    /// a garbage or hostile file from costing time.
    public static let maximumFileSize = 1 << 20

    public static func load(path: String) -> PlanLoadResult {
        // The size first: a huge file is refused without reading it. (stat, not
        // FileManager.attributesOfItem, which also looks up the owner's name: slow over many files.)
        var status = stat()
        if stat(path, &status) == 0, Int(status.st_size) > maximumFileSize {
            return PlanLoadResult(plan: nil, findings: [tooLarge(file: path, bytes: Int(status.st_size))])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return PlanLoadResult(plan: nil, findings: [Finding(file: path, line: 1, column: 1, severity: .error,
                                                                rule: "io-error", message: "cannot read the file")])
        }
        if data.count > maximumFileSize { return PlanLoadResult(plan: nil, findings: [tooLarge(file: path, bytes: data.count)]) }
        guard let text = String(data: data, encoding: .utf8) else {
            return PlanLoadResult(plan: nil, findings: [Finding(file: path, line: 1, column: 1, severity: .error,
                                                                rule: "plan-yaml-syntax", message: "the file is not valid UTF-8")])
        }
        return load(file: path, source: text, bytes: Array(data))
    }

    public static func load(file: String, source: String) -> PlanLoadResult {
        load(file: file, source: source, bytes: Array(source.utf8))
    }

    /// The id a plan loaded from `file` has: its file name without `.yaml` or `.yml`.
    public static func planID(ofFile file: String) -> String {
        let fileName = (file as NSString).lastPathComponent
        return fileName.hasSuffix(".yaml") ? String(fileName.dropLast(5))
            : fileName.hasSuffix(".yml") ? String(fileName.dropLast(4)) : fileName
    }

    static func load(file: String, source: String, bytes: [UInt8]) -> PlanLoadResult {
        let stem = planID(ofFile: file)
        if bytes.count > maximumFileSize {
            return PlanLoadResult(plan: nil, findings: [tooLarge(file: file, bytes: bytes.count)])
        }
        if bytes.contains(0) {
            return PlanLoadResult(plan: nil, findings: [Finding(file: file, line: 1, column: 1, severity: .error, rule: "plan-yaml-syntax",
                message: "the file contains a NUL byte: it is not a text file")])
        }
        let original = source
        // A byte order mark is not part of the text (libyaml would read it as content here).
        let source = source.unicodeScalars.first == "\u{FEFF}" ? String(source.unicodeScalars.dropFirst()) : source
        if let refusal = aliasInKey(source, file: file) {
            return PlanLoadResult(plan: nil, findings: [refusal])
        }
        let root: Node
        do {
            guard let node = try compose(source) else {
                return PlanLoadResult(plan: nil, findings: [Finding(file: file, line: 1, column: 1, severity: .error,
                                                                    rule: "plan-missing-key", message: "the plan is empty; it needs at least 'table' and 'changes'")])
            }
            root = node
        } catch {
            return PlanLoadResult(plan: nil, findings: [yamlFinding(error, file: file, source: source)])
        }

        var reader = NodeReader(file: file, source: source)
        guard let top = reader.mapping(root, what: "the plan", allowed: topLevelKeys) else {
            return PlanLoadResult(plan: nil, findings: reader.findings)
        }
        let start = SourceLocation(file: file, line: 1, column: 1)
        var table: Located<TableName>?
        if let node = top["table"]?.value, let text = reader.nonEmptyString(node, key: "table") {
            if let name = TableName(parsing: text.value) {
                table = Located(name, at: text.location)
            } else {
                reader.report(node, "plan-invalid-value", "'table' must be a name or schema.name, found '\(text.value)'")
            }
        } else if top["table"] == nil {
            reader.report(at: start, "plan-missing-key", "the plan needs 'table': the table whose columns change")
        }
        let description = top["description"].flatMap { reader.string($0.value, key: "description")?.value }

        var dependencies = PlanDependencies()
        if let node = top["depends_on"]?.value,
           let map = reader.mapping(node, what: "'depends_on'", allowed: ["migrations", "plans"]) {
            dependencies.migrations = reader.stringList(map["migrations"]?.value, key: "migrations")
            dependencies.plans = reader.stringList(map["plans"]?.value, key: "plans")
        }

        // `rename_table_to`: a plan of its own, without column changes (docs/plans.md#renaming-a-table).
        let renameTableTo = top["rename_table_to"].flatMap { reader.nonEmptyString($0.value, key: "rename_table_to") }
        if let renameTableTo {
            if let message = TableRename.problem(newName: renameTableTo.value, table: table?.value) {
                reader.report(at: renameTableTo.location, "plan-invalid-value", message)
            }
            if let node = top["changes"]?.value {
                reader.report(node, "plan-table-rename-combined",
                              "a plan with 'rename_table_to' renames its table and changes nothing else: write the column and constraint changes as a plan of their own, before it (on the old name) or after it (on the new name)")
            }
            if let node = top["strategy"]?.value {
                reader.report(node, "plan-table-rename-combined",
                              "'strategy' is how a column rename reaches the new version; a table rename has one way: its view under the new name")
            }
            if let node = top["versioned_schemas"]?.value {
                reader.report(node, "plan-table-rename-combined",
                              "'versioned_schemas' does not apply to a table rename: its view under the new name serves the new version without a search_path")
            }
        }

        var changes: [Change] = []
        var constraintChanges: [ConstraintChange] = []
        if renameTableTo != nil {
            // Reported above.
        } else if let node = top["changes"]?.value, let items = reader.sequence(node, key: "changes") {
            if items.isEmpty { reader.report(node, "plan-missing-key", "'changes' is empty; a plan changes at least one column") }
            for item in items {
                if isConstraintChange(item) {
                    if let constraint = readConstraintChange(item, reader: &reader) { constraintChanges.append(constraint) }
                    continue
                }
                if let change = readChange(item, reader: &reader) { changes.append(change) }
            }
        } else if top["changes"] == nil && top["move_columns"] == nil {
            reader.report(at: start, "plan-missing-key", "the plan needs 'changes': a list of column changes (or 'rename_table_to': a new name for the table)")
        }
        let moveColumns = readMoveColumns(top, reader: &reader)

        var checks: [PlanCheck] = []
        if let items = reader.sequence(top["checks"]?.value, key: "checks") {
            for item in items {
                guard let map = reader.mapping(item, what: "a check", allowed: ["name", "sql", "expect"]) else { continue }
                let name = reader.nonEmptyString(map["name"]?.value, key: "name")
                let sql = reader.expression(map["sql"]?.value, key: "sql")
                let expect = reader.expectation(map["expect"]?.value, key: "expect")
                for key in ["name", "sql", "expect"] where map[key] == nil {
                    reader.report(item, "plan-missing-key", "a check needs '\(key)'")
                }
                if let name, let sql, let expect { checks.append(PlanCheck(name: name, sql: sql, expect: expect.text, expectation: expect.value)) }
            }
        }

        var gates: [PlanGate] = []
        if let items = reader.sequence(top["gates"]?.value, key: "gates") {
            for item in items {
                guard let map = reader.mapping(item, what: "a gate", allowed: ["name", "before", "description"]) else { continue }
                let name = reader.nonEmptyString(map["name"]?.value, key: "name")
                let allowed = PhaseCommand.allCases.filter { $0 != .rollback }.map(\.rawValue)
                let before = reader.choice(map["before"]?.value, key: "before", allowed: allowed)
                    .flatMap { text in PhaseCommand(rawValue: text.value).map { Located($0, at: text.location) } }
                for key in ["name", "before"] where map[key] == nil {
                    reader.report(item, "plan-missing-key", "a gate needs '\(key)'")
                }
                let text = map["description"].flatMap { reader.string($0.value, key: "description")?.value }
                if let name, let before { gates.append(PlanGate(name: name, before: before, description: text)) }
            }
        }

        var backfill = BackfillSettings()
        if let node = top["backfill"]?.value, let map = reader.mapping(node, what: "'backfill'", allowed: backfillKeys) {
            if let v = reader.int(map["batch_size"]?.value, key: "batch_size", minimum: 1) { backfill.batchSize = v }
            if let v = reader.int(map["target_batch_ms"]?.value, key: "target_batch_ms", minimum: 1) { backfill.targetBatchMilliseconds = v }
            if let v = reader.int(map["pause_ms"]?.value, key: "pause_ms") { backfill.pauseMilliseconds = v }
            if let v = reader.int(map["lock_timeout_ms"]?.value, key: "lock_timeout_ms", minimum: 1) { backfill.lockTimeoutMilliseconds = v }
            if let v = reader.int(map["statement_timeout_ms"]?.value, key: "statement_timeout_ms", minimum: 1) { backfill.statementTimeoutMilliseconds = v }
            if let v = reader.int(map["retries"]?.value, key: "retries") { backfill.retries = v }
            if let v = reader.int(map["max_replica_lag_ms"]?.value, key: "max_replica_lag_ms", minimum: 1) { backfill.maxReplicaLagMilliseconds = v }
            if let v = reader.int(map["vacuum_every_rows"]?.value, key: "vacuum_every_rows") { backfill.vacuumEveryRows = v }
            if let v = reader.int(map["gentle_batch_ms"]?.value, key: "gentle_batch_ms", minimum: 1) { backfill.gentleBatchMilliseconds = v }
            if let v = reader.int(map["gentle_rest_percent"]?.value, key: "gentle_rest_percent") { backfill.gentleRestPercent = v }
            if let v = reader.int(map["workers"]?.value, key: "workers", minimum: 1, maximum: BackfillSettings.maximumWorkers) { backfill.workers = v }
            if let text = reader.choice(map["pacing"]?.value, key: "pacing", allowed: BackfillPacing.allCases.map(\.rawValue)) {
                backfill.pacing = BackfillPacing(rawValue: text.value) ?? .adaptive
            }
        }

        var rehearsalValues: [RehearsalValues] = []
        if let node = top["rehearse"]?.value, let map = reader.mapping(node, what: "'rehearse'", allowed: ["values"]),
           let valuesNode = map["values"]?.value {
            rehearsalValues = readRehearsalValues(valuesNode, reader: &reader, key: "rehearse.values")
        }

        let versionedKey = reader.bool(top["versioned_schemas"]?.value, key: "versioned_schemas")
        let versionedSchemas = versionedKey?.value ?? false
        let strategyKey = reader.choice(top["strategy"]?.value, key: "strategy", allowed: PlanStrategy.allCases.map(\.rawValue))
            .flatMap { text in PlanStrategy(rawValue: text.value).map { Located($0, at: text.location) } }
        let archive = reader.bool(top["archive"]?.value, key: "archive")

        let number = PlanNaming.sequenceNumber(of: stem)
        guard let table, !(changes.isEmpty && constraintChanges.isEmpty && renameTableTo == nil) || moveColumns != nil, !reader.findings.hasErrors else {
            return PlanLoadResult(plan: nil, findings: reader.findings)
        }
        var plan = Plan(id: stem, number: number, file: file, checksum: SHA256.hex(bytes), table: table,
                        description: description, dependsOn: dependencies, changes: changes,
                        checks: checks, gates: gates, backfill: backfill, source: original, constraintChanges: constraintChanges,
                        rehearsalValues: rehearsalValues)
        plan.versionedSchemas = versionedSchemas
        plan.strategyKey = strategyKey
        if strategyKey?.value == .views {
            // The views are what give each version its name: the strategy implies them.
            plan.versionedSchemas = true
            let findings = ViewsStrategy.findings(plan, versionedSchemas: versionedKey)
            if findings.hasErrors { return PlanLoadResult(plan: nil, findings: reader.findings + findings) }
        }
        plan.archive = archive
        plan.renameTableTo = renameTableTo
        plan.moveColumns = moveColumns
        return PlanLoadResult(plan: plan, findings: reader.findings)
    }

    /// `move_columns: { to: name, columns: [a, b] }` (ColumnMove): alone, without `changes`.
    static func readMoveColumns(_ top: [String: (key: Node, value: Node)], reader: inout NodeReader) -> MoveColumns? {
        guard let entry = top["move_columns"] else { return nil }
        let location = reader.location(entry.key)
        guard let map = reader.mapping(entry.value, what: "'move_columns'", allowed: ["to", "columns"]) else { return nil }
        var to: Located<TableName>?
        if let text = reader.nonEmptyString(map["to"]?.value, key: "to") {
            if let name = TableName(parsing: text.value) { to = Located(name, at: text.location) } else {
                reader.report(at: text.location, "plan-invalid-value", "'to' must be a name or schema.name, found '\(text.value)'")
            }
        } else if map["to"] == nil {
            reader.report(entry.value, "plan-missing-key", "'move_columns' needs 'to': the new table")
        }
        let columns = reader.stringList(map["columns"]?.value, key: "columns")
        if map["columns"] == nil {
            reader.report(entry.value, "plan-missing-key", "'move_columns' needs 'columns': the columns that move")
        } else if columns.isEmpty, let node = map["columns"]?.value {
            reader.report(node, "plan-invalid-value", "'columns' is empty: a move moves at least one column")
        }
        for key in ["changes", "versioned_schemas", "strategy", "archive", "rename_table_to"] {
            if let other = top[key] {
                reader.report(other.key, "plan-invalid-value", "a move_columns plan has no '\(key)': write other changes in a plan of their own")
            }
        }
        guard let to, !columns.isEmpty else { return nil }
        return MoveColumns(to: to, columns: columns, location: location)
    }

    /// A `rehearse: values:` mapping (in a plan, or per table in `bellows.yaml`): column → a
    /// list of values or an SQL expression of the row number `g`. `key` names it in messages.
    static func readRehearsalValues(_ valuesNode: Node, reader: inout NodeReader, key prefix: String) -> [RehearsalValues] {
        var rehearsalValues: [RehearsalValues] = []
        guard case .mapping(let columns) = valuesNode else {
            reader.report(valuesNode, "plan-wrong-type",
                          "'\(prefix)' must be a mapping of column: [values] or column: \"SQL expression of g\", found \(NodeReader.typeName(valuesNode))")
            return []
        }
        for (keyNode, value) in columns {
            guard case .scalar(let key) = keyNode, !key.string.isEmpty else {
                reader.report(keyNode, "plan-wrong-type", "keys in '\(prefix)' must be column names")
                continue
            }
            let column = Located(key.string, at: reader.location(keyNode))
            let name = "\(prefix).\(key.string)"
            if case .sequence(let items) = value {
                let texts = items.compactMap { item -> String? in
                    guard case .scalar(let scalar) = item else {
                        reader.report(item, "plan-wrong-type", "'\(name)' entries must be single values, found \(NodeReader.typeName(item))")
                        return nil
                    }
                    return scalar.string
                }
                if items.isEmpty { reader.report(value, "plan-invalid-value", "'\(name)' needs at least one value") }
                if texts.count == items.count && !texts.isEmpty { rehearsalValues.append(RehearsalValues(column: column, source: .list(texts))) }
            } else if let expression = reader.expression(value, key: name) {
                rehearsalValues.append(RehearsalValues(column: column, source: .expression(expression)))
            }
        }
        return rehearsalValues
    }

    // MARK: - Changes

    private static func readChange(_ node: Node, reader: inout NodeReader) -> Change? {
        guard case .mapping(let mapping) = node else {
            reader.report(node, "plan-wrong-type", "a change must be a mapping starting with one of \(changeKinds.joined(separator: ", ")), found \(NodeReader.typeName(node))")
            return nil
        }
        let keys = mapping.keys.compactMap { $0.string }
        let kinds = keys.filter { changeKinds.contains($0) }
        guard kinds.count == 1, let kind = kinds.first else {
            if kinds.isEmpty {
                var message = "a change must say what it does with one of: \(columnChangeKinds.map { "'\($0): COLUMN'" }.joined(separator: ", ")), or for a table constraint \(constraintChangeKinds.map { "'\($0)'" }.joined(separator: ", "))"
                if let first = keys.first, let s = Suggestion.closest(to: first, in: changeKinds) { message += "; did you mean '\(s)'?" }
                reader.report(node, "plan-missing-key", message)
            } else {
                reader.report(node, "plan-invalid-value", "a change has exactly one kind, found \(kinds.joined(separator: " and ")): write them as separate changes")
            }
            return nil
        }
        switch kind {
        case "alter":
            guard let map = reader.mapping(node, what: "an 'alter' change", allowed: alterKeys),
                  let column = reader.nonEmptyString(map["alter"]?.value, key: "alter") else { return nil }
            let change = AlterColumn(
                column: column,
                renameTo: reader.nonEmptyString(map["rename_to"]?.value, key: "rename_to"),
                type: reader.nonEmptyString(map["type"]?.value, key: "type"),
                up: reader.expression(map["up"]?.value, key: "up"),
                down: reader.expression(map["down"]?.value, key: "down"),
                attributes: readAttributes(map, reader: &reader))
            var alter = change
            if let node = map["carry"]?.value,
               let carry = reader.mapping(node, what: "'carry'", allowed: ["unique", "references", "checks"]) {
                var options = CarryOptions(location: reader.location(node))
                options.unique = reader.bool(carry["unique"]?.value, key: "unique")
                options.references = reader.bool(carry["references"]?.value, key: "references")
                options.checks = reader.bool(carry["checks"]?.value, key: "checks")
                alter.carry = options
            }
            return .alter(alter)
        case "add":
            guard let map = reader.mapping(node, what: "an 'add' change", allowed: addKeys),
                  let column = reader.nonEmptyString(map["add"]?.value, key: "add") else { return nil }
            guard let type = reader.nonEmptyString(map["type"]?.value, key: "type") else {
                if map["type"] == nil { reader.report(node, "plan-missing-key", "'add: \(column.value)' needs 'type'") }
                return nil
            }
            return .add(AddColumn(column: column, type: type,
                                  backfill: reader.expression(map["backfill"]?.value, key: "backfill"),
                                  attributes: readAttributes(map, reader: &reader)))
        case "drop":
            guard let map = reader.mapping(node, what: "a 'drop' change", allowed: dropKeys),
                  let column = reader.nonEmptyString(map["drop"]?.value, key: "drop") else { return nil }
            return .drop(DropColumn(column: column, down: reader.expression(map["down"]?.value, key: "down")))
        case "split":
            guard let map = reader.mapping(node, what: "a 'split' change", allowed: splitKeys),
                  let column = reader.nonEmptyString(map["split"]?.value, key: "split") else { return nil }
            var targets: [SplitTarget] = []
            if let intoNode = map["into"]?.value, let items = reader.sequence(intoNode, key: "into") {
                if items.count < 2 { reader.report(intoNode, "plan-invalid-value", "'into' of a split needs at least two columns") }
                for item in items {
                    guard let t = reader.mapping(item, what: "a split target", allowed: splitTargetKeys) else { continue }
                    let name = reader.nonEmptyString(t["column"]?.value, key: "column")
                    let type = reader.nonEmptyString(t["type"]?.value, key: "type")
                    let up = reader.expression(t["up"]?.value, key: "up")
                    for key in ["column", "type", "up"] where t[key] == nil {
                        reader.report(item, "plan-missing-key", "a split target needs '\(key)'")
                    }
                    let attributes = readAttributes(t, reader: &reader)
                    if let name, let type, let up {
                        targets.append(SplitTarget(column: name, type: type, up: up, attributes: attributes))
                    }
                }
            } else if map["into"] == nil {
                reader.report(node, "plan-missing-key", "'split: \(column.value)' needs 'into': the new columns")
            }
            return .split(SplitColumn(column: column, into: targets, down: reader.expression(map["down"]?.value, key: "down")))
        default: // merge
            guard let map = reader.mapping(node, what: "a 'merge' change", allowed: mergeKeys) else { return nil }
            let columns = reader.stringList(map["merge"]?.value, key: "merge")
            if let node = map["merge"]?.value, case .sequence(let s) = node, s.count < 2 {
                reader.report(node, "plan-invalid-value", "'merge' needs at least two columns")
            }
            let into = reader.nonEmptyString(map["into"]?.value, key: "into")
            let type = reader.nonEmptyString(map["type"]?.value, key: "type")
            let up = reader.expression(map["up"]?.value, key: "up")
            for key in ["into", "type", "up"] where map[key] == nil {
                reader.report(node, "plan-missing-key", "a 'merge' change needs '\(key)'")
            }
            var downs: [String: PlanExpression] = [:]
            if let downNode = map["down"]?.value {
                let names = columns.map(\.value)
                if let downMap = reader.mapping(downNode, what: "'down' of a merge (old column: expression)", allowed: names) {
                    for (name, pair) in downMap {
                        if let e = reader.expression(pair.value, key: "down.\(name)") { downs[name] = e }
                    }
                }
            }
            let attributes = readAttributes(map, reader: &reader)
            guard let into, let type, let up, !columns.isEmpty else { return nil }
            return .merge(MergeColumns(columns: columns, into: into, type: type, up: up, down: downs, attributes: attributes))
        }
    }

    /// Whether `node` is a mapping with exactly one change kind, a table-level constraint's.
    private static func isConstraintChange(_ node: Node) -> Bool {
        guard case .mapping(let mapping) = node else { return false }
        let kinds = mapping.keys.compactMap { $0.string }.filter { changeKinds.contains($0) }
        return kinds.count == 1 && constraintChangeKinds.contains(kinds[0])
    }

    /// A table-level constraint change (`add_unique`, `add_foreign_key`, `add_check`,
    /// `drop_constraint`); nil with findings when it is not well formed.
    private static func readConstraintChange(_ node: Node, reader: inout NodeReader) -> ConstraintChange? {
        guard case .mapping(let mapping) = node,
              let kind = mapping.keys.compactMap({ $0.string }).first(where: { constraintChangeKinds.contains($0) }),
              let kindNode = mapping.first(where: { $0.key.string == kind })?.value else { return nil }
        let start = reader.location(kindNode)
        func name(_ map: [String: (key: Node, value: Node)]) -> Located<String>? {
            reader.nonEmptyString(map["name"]?.value, key: "name")
        }
        func columns(_ map: [String: (key: Node, value: Node)], key: String) -> [Located<String>]? {
            guard let listNode = map[key]?.value else { return nil }
            let list = reader.stringList(listNode, key: key)
            if case .sequence(let items) = listNode, items.isEmpty {
                reader.report(listNode, "plan-invalid-value", "'\(key)' needs at least one column")
                return nil
            }
            if list.contains(where: { $0.value.isEmpty }) {
                reader.report(listNode, "plan-invalid-value", "'\(key)' lists an empty column name")
                return nil
            }
            return list.isEmpty ? nil : list
        }
        switch kind {
        case "add_unique":
            guard let map = reader.mapping(node, what: "an 'add_unique' change", allowed: ["add_unique", "name"]),
                  let list = columns(map, key: "add_unique") else { return .none }
            return .unique(columns: list, name: name(map), location: start)
        case "add_foreign_key":
            guard let map = reader.mapping(node, what: "an 'add_foreign_key' change", allowed: ["add_foreign_key", "references", "name"]) else { return .none }
            let list = columns(map, key: "add_foreign_key")
            guard let refNode = map["references"]?.value else {
                reader.report(node, "plan-missing-key", "'add_foreign_key' needs 'references': { table, columns, on_delete }")
                return .none
            }
            guard let ref = reader.mapping(refNode, what: "'references'", allowed: ["table", "columns", "on_delete"]) else { return .none }
            let table = reader.nonEmptyString(ref["table"]?.value, key: "table")
            let referenced = columns(ref, key: "columns")
            for key in ["table", "columns"] where ref[key] == nil {
                reader.report(refNode, "plan-missing-key", "'references' needs '\(key)'")
            }
            let action = readOnDelete(ref["on_delete"]?.value, reader: &reader)
            guard let list, let table, let referenced else { return .none }
            if referenced.count != list.count {
                reader.report(ref["columns"]?.value ?? refNode, "plan-invalid-value",
                              "'references.columns' lists \(referenced.count) column(s) for the \(list.count) of 'add_foreign_key'; they pair up one to one")
                return .none
            }
            let reference = TableForeignKeyReference(table: table, columns: referenced, onDelete: action, location: reader.location(refNode))
            return .foreignKey(columns: list, references: reference, name: name(map), location: start)
        case "add_check":
            guard let map = reader.mapping(node, what: "an 'add_check' change", allowed: ["add_check", "name"]),
                  let expression = reader.expression(map["add_check"]?.value, key: "add_check") else { return .none }
            return .check(expression: expression, name: name(map), location: start)
        default: // drop_constraint
            guard let map = reader.mapping(node, what: "a 'drop_constraint' change", allowed: ["drop_constraint"]),
                  let constraint = reader.nonEmptyString(map["drop_constraint"]?.value, key: "drop_constraint") else { return .none }
            return .drop(name: constraint)
        }
    }

    /// `on_delete` of a `references:` mapping (`set_null` is accepted for `set null`).
    private static func readOnDelete(_ node: Node?, reader: inout NodeReader) -> ReferentialAction? {
        guard let node, let text = reader.nonEmptyString(node, key: "on_delete") else { return nil }
        let action = ReferentialAction(rawValue: text.value.lowercased().replacingOccurrences(of: "_", with: " "))
        if action == nil {
            reader.report(node, "plan-invalid-value",
                          "'on_delete' must be one of \(ReferentialAction.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text.value)'")
        }
        return action
    }

    private static func readAttributes(_ map: [String: (key: Node, value: Node)], reader: inout NodeReader) -> ColumnAttributes {
        var attributes = ColumnAttributes()
        attributes.notNull = reader.bool(map["not_null"]?.value, key: "not_null")
        attributes.defaultValue = reader.expression(map["default"]?.value, key: "default")
        attributes.dropDefault = reader.bool(map["drop_default"]?.value, key: "drop_default")
        attributes.check = reader.expression(map["check"]?.value, key: "check")
        attributes.unique = reader.bool(map["unique"]?.value, key: "unique")
        if let node = map["comment"]?.value, case .scalar(let scalar) = node, NodeReader.typeName(node) == "null", scalar.style == .plain {
            attributes.removesComment = reader.location(node)
        } else {
            attributes.comment = reader.string(map["comment"]?.value, key: "comment")
        }
        if let node = map["references"]?.value,
           let ref = reader.mapping(node, what: "'references'", allowed: ["table", "column", "on_delete"]) {
            let table = reader.nonEmptyString(ref["table"]?.value, key: "table")
            let column = reader.nonEmptyString(ref["column"]?.value, key: "column")
            for key in ["table", "column"] where ref[key] == nil {
                reader.report(node, "plan-missing-key", "'references' needs '\(key)'")
            }
            let action = readOnDelete(ref["on_delete"]?.value, reader: &reader)
            if let table, let column {
                attributes.references = ForeignKeyReference(table: table, column: column, onDelete: action, location: reader.location(node))
            }
        }
        return attributes
    }

    /// Yams' composer with the basic resolver (NodeReader decides types from the text, and the
    /// default resolver's regular expressions, run on every key Yams hashes for duplicates, cost
    /// more than the rest of the parse) and UTF-8 given (the default reads the environment per call).
    static func compose(_ text: String) throws -> Node? {
        try Yams.compose(yaml: text, Resolver.basic, Constructor.default, .utf8)
    }

    static func tooLarge(file: String, bytes: Int) -> Finding {
        Finding(file: file, line: 1, column: 1, severity: .error, rule: "plan-too-large",
                message: "the plan is \(bytes) bytes; plans are limited to \(maximumFileSize) bytes")
    }

    static func yamlFinding(_ error: Error, file: String, source: String) -> Finding {
        var line = 1, column = 1
        var problem = "\(error)"
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(let context, let text, let mark, _), .parser(let context, let text, let mark, _), .composer(let context, let text, let mark, _):
                line = mark.line; column = mark.column
                problem = text
                if let context {
                    problem = "\(text) (\(context.text) at \(context.mark.line):\(context.mark.column))"
                    // A quote or bracket never closed: libyaml notices at the end of the file or at the
                    // next key; the place to fix is where it was opened.
                    if text.contains("end of stream") || text.hasPrefix("did not find expected ',' or") {
                        line = context.mark.line; column = context.mark.column
                        let what = context.text.replacingOccurrences(of: "while scanning ", with: "")
                            .replacingOccurrences(of: "while parsing ", with: "")
                        problem = "\(what) starts here and is never closed (\(text) at \(mark.line):\(mark.column))"
                    }
                }
            case .reader(let text, _, _, _):
                problem = text
            case .duplicatedKeysInMapping(let duplicates, let context):
                let key = duplicates.sorted().first ?? "?"
                let first = context.mark
                let second = secondOccurrence(of: key, after: first, in: SourceText(source))
                return Finding(file: file, line: second?.line ?? first.line, column: second?.column ?? first.column, severity: .error,
                               rule: "plan-duplicate-key",
                               message: "key '\(key)' appears twice in the same mapping (first at \(first.line):\(first.column))")
            default:
                break
            }
        }
        return Finding(file: file, line: line, column: column, severity: .error, rule: "plan-yaml-syntax", message: "invalid YAML: \(problem)")
    }

    /// Where a duplicated key is written again: the next `key:` after the first one, at the same
    /// column (block mapping) or after `{` / `,` (flow mapping). Nil when not found.
    static func secondOccurrence(of key: String, after first: Mark, in source: SourceText) -> (line: Int, column: Int)? {
        guard let start = source.index(line: first.line, column: first.column) else { return nil }
        let keyScalars = Array(key.unicodeScalars)
        let scalars = source.scalars
        var i = start + max(keyScalars.count, 1)
        while i + keyScalars.count <= scalars.count {
            defer { i += 1 }
            guard Array(scalars[i..<(i + keyScalars.count)]) == keyScalars else { continue }
            var j = i + keyScalars.count
            while j < scalars.count, scalars[j] == " " || scalars[j] == "\t" { j += 1 }
            guard j < scalars.count, scalars[j] == ":" else { continue }
            let position = source.position(of: i)
            var k = i - 1
            while k >= 0, scalars[k] == " " || scalars[k] == "\t" { k -= 1 }
            let afterFlowIndicator = k >= 0 && (scalars[k] == "{" || scalars[k] == ",")
            if position.column == first.column || afterFlowIndicator { return position }
        }
        return nil
    }

    // MARK: - Aliases

    /// libyaml's anchor and alias names: ASCII letters, digits, `-` and `_`.
    private static func isAnchorCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    /// Refuses an alias used as a mapping key (or inside one). Yams compares the keys of each
    /// mapping to find duplicates, hashing every key in full: an aliased key that expands to a
    /// "billion laughs" tree would take forever. Aliases in values are harmless (they share
    /// nodes), so only keys are refused.
    ///
    /// When the text has both anchor-like (`&a`) and alias-like (`*a`) tokens, a copy with the
    /// aliases turned into plain scalars of the same length (`_a`) is composed first (cheap: no
    /// aliases left), and its keys searched for those scalars.
    static func aliasInKey(_ source: String, file: String) -> Finding? {
        let scalars = Array(source.unicodeScalars)
        func candidates(_ indicator: Unicode.Scalar) -> [Int] {
            var result: [Int] = []
            for i in scalars.indices where scalars[i] == indicator && i + 1 < scalars.count && isAnchorCharacter(scalars[i + 1]) {
                if i == 0 { result.append(i); continue }
                switch scalars[i - 1] {
                case " ", "\t", "\n", "\r", "[", "{", ",", "\u{85}", "\u{2028}", "\u{2029}": result.append(i)
                default: break
                }
            }
            return result
        }
        let aliases = candidates("*")
        guard !aliases.isEmpty, !candidates("&").isEmpty else { return nil }
        var neutral = scalars
        for i in aliases { neutral[i] = "_" }
        let neutralText = String(String.UnicodeScalarView(neutral))
        let text = SourceText(neutralText)
        let positions = Set(aliases.map { i -> Int in let p = text.position(of: i); return p.line << 32 | p.column })
        let root: Node
        do {
            guard let node = try compose(neutralText) else { return nil }
            root = node
        } catch {
            // Report the syntax error from the copy (same places): composing the real text could
            // complete a mapping with an aliased key before it reaches the error.
            return yamlFinding(error, file: file, source: neutralText)
        }
        func search(_ node: Node, inKey: Bool) -> Mark? {
            switch node {
            case .scalar(let scalar):
                guard inKey, let mark = scalar.mark, positions.contains(mark.line << 32 | mark.column) else { return nil }
                return mark
            case .mapping(let mapping):
                for (key, value) in mapping {
                    if let found = search(key, inKey: true) ?? search(value, inKey: inKey) { return found }
                }
                return nil
            case .sequence(let sequence):
                for item in sequence { if let found = search(item, inKey: inKey) { return found } }
                return nil
            case .alias:
                return nil
            }
        }
        guard let mark = search(root, inKey: false) else { return nil }
        return Finding(file: file, line: mark.line, column: mark.column, severity: .error, rule: "plan-yaml-syntax",
                       message: "invalid YAML: an alias cannot be a mapping key (or part of one) in a plan; write the key out")
    }
}

/// The `NNN_description` naming of plan and migration files.
public enum PlanNaming {
    /// The leading sequence number of `NNN_description`, nil when the stem does not follow it.
    public static func sequenceNumber(of stem: String) -> Int? {
        let digits = stem.prefix(while: { $0.isASCII && $0.isNumber })
        guard digits.count >= 3, stem.dropFirst(digits.count).first == "_" else { return nil }
        return Int(digits)
    }

    /// Whether a stem is `NNN_snake_case_description`.
    public static func isWellFormed(_ stem: String) -> Bool {
        guard sequenceNumber(of: stem) != nil else { return false }
        let description = stem.drop(while: { $0.isNumber }).dropFirst()
        return !description.isEmpty && description.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }
}
