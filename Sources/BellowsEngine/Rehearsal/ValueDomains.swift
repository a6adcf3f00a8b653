import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// The values the rehearsal's generator and simulated writers put in a column, when its type
/// alone does not say what is realistic: a plan's `rehearse: values:` hint (a list, or an SQL
/// expression of the row number `g`; a hint follows a column the plan renames, under its old
/// and its new name), else — for the writers — the distinct values the column's existing rows
/// hold (they satisfy its CHECK constraints, and every `up` was evaluated on them before
/// expand), else the values a CHECK lists (`kind IN ('a', 'b')`, `CheckValueList`). Lists live
/// in `bellows_rehearsal.domain` (bound as parameters, never pasted into SQL); a column's
/// generator expression picks one by `g`.
final class ValueDomains {
    /// Per table (`format('%I.%I')`), per column.
    private(set) var sources: [String: [String: DataGenerator.ValueSource]] = [:]
    /// `table|column` of the columns a plan's hint covers (kept for every plan; values derived
    /// from rows are derived again before each plan, from the table as it is then).
    private var hinted: Set<String> = []
    private var nextID = 1
    /// Lists already stored, by their values.
    private var stored: [[String]: Int] = [:]

    static let table = "bellows_rehearsal.domain"

    static func ensure(_ connection: Connection) throws {
        try connection.execute("CREATE SCHEMA IF NOT EXISTS bellows_rehearsal")
        try connection.execute("CREATE TABLE IF NOT EXISTS \(table) (id int PRIMARY KEY, v text[] NOT NULL)")
    }

    /// A plan's table as `DataGenerator` names tables (`format('%I.%I')`).
    static func tableKey(_ name: TableName, connection: Connection) throws -> String {
        try connection.query("SELECT format('%I.%I', $1::text, $2::text) AS t", [name.effectiveSchema, name.name]).first?.string("t") ?? name.description
    }

    /// Records every plan's `rehearse: values:` hints (the first plan naming a column wins).
    /// A hint follows the plan's renames: naming a column's old name or its new one, it gives
    /// both their values (the old column's for the seed and old code, the new one's for new
    /// code and later plans); a hint of an earlier plan follows a later plan's rename too.
    func addHints(_ plans: [Plan], connection: Connection) throws {
        try Self.ensure(connection)
        for plan in PlanChain.ordered(plans) {
            let key = try Self.tableKey(plan.table.value, connection: connection)
            let renames = Self.renames(plan)
            for (old, new) in renames {
                if let source = sources[key]?[old], hinted.contains(key + "|" + old), hinted.insert(key + "|" + new).inserted {
                    sources[key, default: [:]][new] = source
                }
            }
            for hint in plan.rehearsalValues {
                let names = [hint.column.value] + renames.compactMap { old, new in
                    old == hint.column.value ? new : new == hint.column.value ? old : nil
                }
                try record(hint, as: names, on: key, connection: connection)
            }
        }
    }

    /// Records `bellows.yaml`'s hints (after the plans': a plan's own hint for a column wins),
    /// each following the renames of the plans on its table, in order.
    func addProjectHints(_ tables: [ProjectConfig.TableRehearsalValues], plans: [Plan], connection: Connection) throws {
        let ordered = PlanChain.ordered(plans)
        for entry in tables {
            let key = try Self.tableKey(entry.tableName, connection: connection)
            let renames = ordered.filter { $0.table.value == entry.tableName }.flatMap(Self.renames)
            for hint in entry.values {
                var names = [hint.column.value]
                for (old, new) in renames where names.contains(old) && !names.contains(new) { names.append(new) }
                try record(hint, as: names, on: key, connection: connection)
            }
        }
    }

    /// Gives `hint`'s values to each of `names` on table `key` that no hint gave values yet.
    private func record(_ hint: RehearsalValues, as names: [String], on key: String, connection: Connection) throws {
        let fresh = names.filter { !hinted.contains(key + "|" + $0) }
        guard !fresh.isEmpty else { return }
        let source: DataGenerator.ValueSource
        switch hint.source {
        case .list(let values): source = .domain(try store(values, connection: connection))
        case .expression(let expression): source = .expression(expression.text)
        }
        for name in fresh {
            hinted.insert(key + "|" + name)
            sources[key, default: [:]][name] = source
        }
    }

    /// The plan's renames (`alter: old` with `rename_to: new`), old → new.
    static func renames(_ plan: Plan) -> [(old: String, new: String)] {
        plan.changes.compactMap { change in
            guard case .alter(let c) = change, let new = c.renameTo else { return nil }
            return (c.column.value, new.value)
        }
    }

    /// For each column of `table` without a hint that the writers fill from a value space
    /// rather than a sequence of fresh values (not unique, no foreign key, not numbered by the
    /// database), the distinct values its existing rows hold (up to 100), as its domain.
    func deriveFromRows(_ table: DataGenerator.Table, connection: Connection) throws {
        try Self.ensure(connection)
        let inKeys = Set(table.compositeUnique.flatMap { $0 } + table.references.flatMap(\.columns))
        for column in table.columns where !column.skip && !column.unique && column.foreignKey == nil && !inKeys.contains(column.name)
            && !hinted.contains(table.name + "|" + column.name) {
            let name = SQLQuote.identifier(column.name)
            let values = try connection.query("""
                SELECT array_agg(v ORDER BY v) AS v FROM (
                  SELECT DISTINCT \(name)::text AS v FROM (SELECT \(name) FROM \(table.name) WHERE \(name) IS NOT NULL LIMIT 5000) AS bellows_s
                  LIMIT 100) AS bellows_d
                """).first?.optionalString("v").map { PostgresArray.parse($0).compactMap { $0 } } ?? []
            guard !values.isEmpty else { continue }
            sources[table.name, default: [:]][column.name] = .domain(try store(values, connection: connection))
        }
    }

    /// Each column of `table` with its value source, where it has one.
    func apply(to table: DataGenerator.Table) -> DataGenerator.Table {
        var table = table
        guard let known = sources[table.name] else { return table }
        for index in table.columns.indices {
            if let source = known[table.columns[index].name] {
                table.columns[index].values = source
                table.columns[index].hinted = hinted.contains(table.name + "|" + table.columns[index].name)
            }
        }
        return table
    }

    /// The value source of a column the plan creates (`add`, or a target named by its final name).
    func source(table: String, column: String) -> DataGenerator.ValueSource? { sources[table]?[column] }

    /// Stores a list (once) and returns its id in `bellows_rehearsal.domain`.
    func store(_ values: [String], connection: Connection) throws -> Int {
        if let id = stored[values] { return id }
        try Self.ensure(connection)
        let id = nextID
        nextID += 1
        stored[values] = id
        try connection.execute("INSERT INTO \(Self.table) (id, v) VALUES ($1, $2::text[]) ON CONFLICT (id) DO UPDATE SET v = excluded.v",
                               [id, PostgresArray.literal(values)])
        return id
    }
}
