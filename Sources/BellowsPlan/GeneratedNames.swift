import BellowsSQL

/// The identifiers a transition creates must not meet each other nor what the table already
/// has: `ADD COLUMN IF NOT EXISTS` onto a column of the same name would make two targets share
/// one column (a write to one then lands in the other), and a taken constraint or index name
/// fails expand halfway.
public enum GeneratedNames {
    /// One located error per generated name that is used twice or already exists in the table.
    public static func collisions(in transition: Transition) -> [Finding] {
        let sql = PhaseSQL(transition)
        let table = transition.table
        var findings: [Finding] = []
        func error(_ location: SourceLocation, _ message: String) {
            findings.append(Finding(at: location, severity: .error, rule: "plan-name-collision", message: message))
        }
        /// Each name once; the second use of a name, or a name the table has, is an error.
        func check(_ names: [(name: String, what: String, location: SourceLocation)], existing: Set<String>, kind: String) {
            var first: [String: String] = [:]
            for entry in names {
                if let earlier = first[entry.name] {
                    error(entry.location, "the \(entry.what) and the \(earlier) would both be named \"\(entry.name)\"; rename a column of the plan")
                } else if existing.contains(entry.name) {
                    error(entry.location, "the \(entry.what) \"\(entry.name)\" is already a \(kind) of \(table.schema).\(table.name); rename or drop it first")
                } else {
                    first[entry.name] = entry.what
                }
            }
        }
        var columns: [(name: String, what: String, location: SourceLocation)] = []
        var transitional: [(name: String, what: String, location: SourceLocation)] = []
        var finals: [(name: String, what: String, location: SourceLocation)] = []
        for group in transition.groups {
            for t in group.targets {
                let column = "column \"\(t.final)\""
                if !t.existing { columns.append((t.physical, "new column for \(column)", group.location)) }
                if t.addsNotNull { transitional.append((sql.notNullCheckName(t), "NOT NULL check of \(column)", group.location)) }
                if t.check != nil {
                    let names = sql.checkName(t)
                    transitional.append((names.transitional, "CHECK of \(column)", group.location))
                    if !t.existing { finals.append((names.final, "CHECK of \(column)", group.location)) }
                }
                if t.foreignKey != nil {
                    let names = sql.foreignKeyName(t)
                    transitional.append((names.transitional, "foreign key of \(column)", group.location))
                    if !t.existing { finals.append((names.final, "foreign key of \(column)", group.location)) }
                }
                if t.unique {
                    let names = sql.uniqueName(t)
                    transitional.append((names.transitional, "unique index of \(column)", group.location))
                    if !t.existing { finals.append((names.final, "unique constraint of \(column)", group.location)) }
                }
                for index in t.rebuiltIndexes {
                    let names = sql.rebuiltIndexName(t, index)
                    transitional.append((names.transitional, "rebuilt index \(index.name) of \(column)", group.location))
                    finals.append((names.final, "rebuilt index \(index.name) of \(column)", group.location))
                }
            }
        }
        for index in transition.recreatedIndexes {
            transitional.append((index.transitional, "recreated index \(index.original)", transition.plan.table.location))
        }
        for constraint in transition.recreatedConstraints {
            transitional.append((constraint.transitional, "recreated constraint \(constraint.original)", transition.plan.table.location))
        }
        check(columns, existing: Set(table.columns.map(\.name)), kind: "column")
        let relations = Set(table.constraints.map(\.name) + table.indexes.map(\.name))
        check(transitional, existing: relations, kind: "constraint or index")
        check(finals, existing: [], kind: "constraint or index")
        return findings
    }
}

extension TransitionNames {
    /// `name` with each replaced column's name changed to its new name where it stands as a
    /// whole `_`-delimited token (`ix_s_desc` with `s` → `s2` is `ix_s2_desc`, not
    /// `ix_s2_des2c`). All renames apply at once, so a swap (`a` → `b`, `b` → `a`) swaps; where
    /// two column names could start at one place (`first` and `first_name`), the longer wins.
    public static func renamingColumns(in name: String, _ renames: [String: String]) -> String {
        let characters = Array(name)
        let candidates = renames.filter { !$0.key.isEmpty && $0.key != $0.value }
            .map { (old: Array($0.key), new: $0.value) }
            .sorted { $0.old.count > $1.old.count }
        var result = ""
        var i = 0
        var atBoundary = true
        while i < characters.count {
            if atBoundary, let match = candidates.first(where: { c in
                let end = i + c.old.count
                return end <= characters.count && Array(characters[i..<end]) == c.old
                    && (end == characters.count || characters[end] == "_")
            }) {
                result += match.new
                i += match.old.count
                atBoundary = false
                continue
            }
            atBoundary = characters[i] == "_"
            result.append(characters[i])
            i += 1
        }
        return result
    }
}
