import BellowsPlan
import BellowsSQL

/// A CHECK a plan adds (`add_check`, or a column's `check:`), as the rehearsal's seed and
/// simulated writers test it on the table before the plan runs. A plan that adds one says the
/// rows and the application's writes already satisfy it; values the generator draws column by
/// column need not (`closed_on >= opened_on`), values the user gave (`rehearse: values:`) must.
/// Pure.
struct PlannedCheck: Sendable, Hashable {
    /// The plan's `name:` for an `add_check`, else its condition.
    var name: String
    /// As written, over the columns' final names.
    var condition: String
    var location: SourceLocation
    /// The condition over the table's columns before the plan (its plain renames undone), nil
    /// when it reads a column the plan adds, retypes, splits, merges or drops: it can then be
    /// tested only once expand made that column, which PostgreSQL does itself.
    var overExisting: String?
    /// The table's existing columns `overExisting` reads.
    var columns: Set<String>
    /// The table's existing columns the plan changes (renames included): the rehearsal never
    /// makes them NULL to satisfy the CHECK, so the backfill and the trigger keep copying the
    /// generator's values.
    var planColumns: Set<String> = []

    /// Where the user reads about it: its name (when not the condition) and its place in the plan.
    var label: String { (name == condition ? "CHECK (\(condition))" : "CHECK \(name) (\(condition))") + " at \(location)" }

    /// A CHECK as the plan declares it: an `add_check` (no column), or a column's `check:`
    /// (`renamed`: the column's, which the plan renames, by its new name).
    struct Declared {
        var column: String?
        var name: String
        var expression: PlanExpression
        var renamed = false
    }

    /// Every CHECK `plan` adds, as declared.
    static func declared(_ plan: Plan) -> [Declared] {
        var declared: [Declared] = []
        for change in plan.constraintChanges {
            if case .check(let expression, let name, _) = change { declared.append(Declared(name: name?.value ?? expression.text, expression: expression)) }
        }
        for change in plan.changes {
            switch change {
            case .alter(let c):
                if let check = c.attributes.check {
                    declared.append(Declared(column: c.column.value, name: check.text, expression: check, renamed: c.renameTo != nil))
                }
            case .add(let c):
                if let check = c.attributes.check { declared.append(Declared(column: c.column.value, name: check.text, expression: check)) }
            default: break
            }
        }
        return declared
    }

    /// The CHECKs `plan` adds, for a table whose columns are `existing`.
    static func of(_ plan: Plan, existing: Set<String>) -> [PlannedCheck] {
        let conditions = declared(plan)
        guard !conditions.isEmpty else { return [] }
        // Plain renames (no type, no up): the final name reads the old column's values.
        var renamedBack: [String: String] = [:]
        var changed: Set<String> = []
        for change in plan.changes {
            if case .alter(let c) = change {
                if c.type != nil || c.up != nil { changed.insert(c.column.value) }
                else if let new = c.renameTo { renamedBack[new.value] = c.column.value }
            } else {
                changed.formUnion(change.existingColumns)
            }
        }
        let created = Set(plan.changes.flatMap { $0.finalColumns + $0.createdColumns }).subtracting(existing).subtracting(renamedBack.keys)
        return conditions.map { check in
            let (name, expression) = (check.name, check.expression)
            let rewritten = ExpressionRewriter.renameColumns(in: expression.text, renamedBack)
            let columns = ExpressionRewriter.referencedColumns(in: rewritten, among: existing)
            let testable = !columns.isEmpty && columns.isDisjoint(with: changed)
                && ExpressionRewriter.referencedColumns(in: rewritten, among: created).isEmpty
            return PlannedCheck(name: name, condition: expression.text, location: expression.location,
                                overExisting: testable ? rewritten : nil, columns: testable ? columns : [],
                                planColumns: Set(plan.changes.flatMap(\.existingColumns)).intersection(existing))
        }
    }
}
