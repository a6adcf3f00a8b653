/// Whether two plans on the same table can be in progress together: not when both change a
/// column, nor when one changes a column the other's expressions read (a rename under another
/// plan's `up` breaks its trigger at the other's contract). Pure.
public struct PlanColumns: Sendable, Hashable {
    /// Columns the plan changes, adds or drops (old and new names).
    public var touched: Set<String>
    /// Columns its `up`, `down`, `check`, `backfill` and `default` expressions read.
    public var referenced: Set<String>

    public init(touched: Set<String>, referenced: Set<String>) {
        self.touched = touched
        self.referenced = referenced
    }

    /// A plan's columns; `candidates` are the names that may be read (the table's columns).
    public init(_ plan: Plan, candidates: Set<String>) {
        let touched = Set(plan.changes.flatMap(\.touchedColumns))
        let names = candidates.union(touched)
        self.touched = touched
        referenced = Set(PlanValidator.expressions(of: plan).filter { $0.key != "sql" }.flatMap {
            ExpressionRewriter.referencedColumns(in: $0.value.text, among: names)
        }).subtracting(touched)
    }

    /// What keeps `self` from starting while `other` is in progress, one sentence per reason;
    /// empty when nothing does.
    public func conflicts(with other: PlanColumns) -> [String] {
        func list(_ columns: Set<String>) -> String { columns.sorted().map { "\"\($0)\"" }.joined(separator: ", ") }
        var reasons: [String] = []
        let both = touched.intersection(other.touched)
        if !both.isEmpty { reasons.append("also changes \(list(both))") }
        let readByOther = touched.intersection(other.referenced)
        if !readByOther.isEmpty { reasons.append("has expressions that read \(list(readByOther)), which this plan changes") }
        let readHere = referenced.intersection(other.touched)
        if !readHere.isEmpty { reasons.append("changes \(list(readHere)), which this plan's expressions read") }
        return reasons
    }

    /// The indexes and constraints of `table` over a column each of `mine` and `other` change
    /// (different columns): each plan rebuilds them over its own new column, and the first
    /// contract's DROP COLUMN takes the other plan's copy with it, stranding that plan
    /// (hostile-d 13). Sorted names.
    public static func sharedObjects(in table: TableInfo, _ mine: Set<String>, _ other: Set<String>) -> [String] {
        SharedObjects(in: table, mine).with(other)
    }

    /// `sharedObjects(in:_:_:)` of one plan's columns against many others': the table's indexes
    /// and constraints over a column `mine` changes are found once (`crossPlan` compares every
    /// pair of plans on a table, and the table grows with every plan before them).
    public struct SharedObjects: Sendable {
        let mine: Set<String>
        /// Indexes, then constraints, over a column of `mine`: their names and columns.
        let objects: [(name: String, columns: [String])]

        public init(in table: TableInfo, _ mine: Set<String>) {
            self.mine = mine
            let indexes = table.indexes.compactMap { index -> (name: String, columns: [String])? in
                let columns = table.details?.indexColumns[index.name] ?? index.columns
                return mine.isDisjoint(with: columns) ? nil : ("index \(index.name)", columns)
            }
            let constraints = table.constraints.compactMap { constraint -> (name: String, columns: [String])? in
                guard !mine.isDisjoint(with: constraint.columns), !table.indexes.contains(where: { $0.name == constraint.name }) else { return nil }
                return ("constraint \(constraint.name)", constraint.columns)
            }
            objects = indexes + constraints
        }

        /// Those over a column `other` changes too, when the two change different columns of it. Sorted names.
        public func with(_ other: Set<String>) -> [String] {
            objects.filter { object in
                let a = mine.intersection(object.columns), b = other.intersection(object.columns)
                return !a.isEmpty && !b.isEmpty && a.union(b).count > 1
            }.map(\.name).sorted()
        }
    }
}
