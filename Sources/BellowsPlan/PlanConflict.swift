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
        func shares(_ columns: [String]) -> Bool {
            let a = mine.intersection(columns), b = other.intersection(columns)
            return !a.isEmpty && !b.isEmpty && a.union(b).count > 1
        }
        let indexes = table.indexes.filter { shares(table.details?.indexColumns[$0.name] ?? $0.columns) }.map { "index \($0.name)" }
        let constraints = table.constraints.filter { constraint in
            shares(constraint.columns) && !table.indexes.contains { $0.name == constraint.name }
        }.map { "constraint \($0.name)" }
        return (indexes + constraints).sorted()
    }
}
