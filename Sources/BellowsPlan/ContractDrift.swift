/// What was added to a column contract drops since expand recorded the table: a migration
/// applied mid-transition (`CREATE UNIQUE INDEX … (email)`, `ADD CONSTRAINT … CHECK (email …)`,
/// `SET DEFAULT`, `COMMENT ON COLUMN`, a statistics object, an owned sequence, a statistics target,
/// attribute options such as `n_distinct`).
/// `DROP COLUMN` drops such objects without
/// a word, so contract would lose the guarantee they give (hostile-d 01); contract refuses
/// instead. Pure: `stored` is the table as expand recorded it, `live` as it is under
/// contract's lock. Bellows' own transitional objects (`_bellows_…`) are not the schema's.
public enum ContractDrift {
    public static func addedOnDroppedColumns(stored: TableInfo, live: TableInfo, dropped: [String]) -> [String] {
        let columns = Set(dropped)
        var found: [String] = []
        func ours(_ name: String) -> Bool { name.hasPrefix("_bellows_") }
        func over(_ names: [String]) -> [String] { names.filter(columns.contains) }
        let storedIndexes = Set(stored.indexes.map(\.name))
        var reported: Set<String> = []
        for index in live.indexes where !storedIndexes.contains(index.name) && !ours(index.name) {
            let on = over(live.details?.indexColumns[index.name] ?? index.columns)
            guard !on.isEmpty else { continue }
            reported.insert(index.name)
            found.append("\(index.isUnique ? "unique index" : "index") \(index.name) on \(on.joined(separator: ", "))")
        }
        let storedConstraints = Set(stored.constraints.map(\.name))
        for constraint in live.constraints where !storedConstraints.contains(constraint.name) && !ours(constraint.name) {
            let on = over(constraint.columns)
            guard !on.isEmpty, !reported.contains(constraint.name) else { continue }
            found.append("constraint \(constraint.name) (\(constraint.definition))")
        }
        for column in dropped {
            let before = stored.column(column), now = live.column(column)
            if now?.notNull == true, before?.notNull != true { found.append("NOT NULL on \(column)") }
            if let now, now.defaultExpression != before?.defaultExpression {
                found.append("default of \(column): " + (now.defaultExpression ?? "dropped") + " (was " + (before?.defaultExpression ?? "none") + ")")
            }
            guard let storedDetails = stored.details, let liveDetails = live.details else { continue }
            let was = storedDetails.columns[column], current = liveDetails.columns[column]
            if current?.comment != was?.comment { found.append("comment on \(column)") }
            // What DROP COLUMN takes with it besides indexes and constraints (hostile-e 02).
            if let sequence = current?.ownedSequence, sequence != was?.ownedSequence { found.append("sequence \(sequence) owned by \(column)") }
            if current?.identity != nil, was?.identity == nil { found.append("identity of \(column)") }
            if current?.statisticsTarget != was?.statisticsTarget { found.append("statistics target of \(column): \(current?.statisticsTarget.map(String.init) ?? "default")") }
            if current?.storage != was?.storage { found.append("storage of \(column): \(current?.storage ?? "default")") }
            if current?.compression != was?.compression { found.append("compression of \(column): \(current?.compression ?? "default")") }
            // `ALTER COLUMN … SET (n_distinct = …)` (hostile-f 05).
            if current?.options != was?.options, let options = current?.options, !options.isEmpty {
                found.append("attribute options of \(column): \(options.joined(separator: ", "))")
            }
            let dependentsBefore = Set(storedDetails.dependents.filter { $0.column == column }.map(\.description))
            for dependent in liveDetails.dependents where dependent.column == column && !dependentsBefore.contains(dependent.description)
                && !dependent.description.contains("_bellows_") && !dependent.description.contains(TransitionNames.triggerPrefix) && !found.contains(dependent.description) {
                found.append(dependent.description)
            }
        }
        return found
    }
}
