import BellowsSQL
import Foundation

/// `strategy: views` (issue 23): a change that needs no new column is made without a copy.
/// While the plan is in flight the versioned schemas' views give each application version its
/// names (the new version's view reads the column `AS` its new name); contract renames the
/// column with `ALTER TABLE … RENAME COLUMN` in one short transaction, so the column keeps its
/// attribute number and with it every property: identity, privileges (column grants included),
/// collation, indexes, constraints, foreign keys, comment, statistics target. No trigger, no
/// backfill, nothing for verify to compare; rollback drops the schemas.
///
/// What fits, per change (`alter` only): a rename (`rename_to`), and in place or with the
/// rename, dropping NOT NULL (`not_null: false`), setting or dropping the default, the comment
/// (all at contract, as with `copy`). Anything that needs a new column, a backfill or a
/// validated constraint — a type, `up`/`down`, `not_null: true`, `unique`, `check`,
/// `references`, `carry`, `add`, `drop`, `split`, `merge`, the table constraint changes — is a
/// located error naming the change: a plan has one strategy, so such a change goes in a plan
/// of its own (with `strategy: copy`, the default). Pure.
public enum ViewsStrategy {
    public static let rule = "plan-strategy-views"

    /// The errors of a plan with `strategy: views`; `versionedSchemas` is its
    /// `versioned_schemas:` key as written, if it was.
    public static func findings(_ plan: Plan, versionedSchemas: Located<Bool>?) -> [Finding] {
        var findings: [Finding] = []
        let strategyAt = plan.strategyKey?.location ?? plan.table.location
        func refuse(_ location: SourceLocation, _ message: String) {
            findings.append(Finding(at: location, severity: .error, rule: rule, message: message))
        }
        if let versioned = versionedSchemas, !versioned.value {
            refuse(versioned.location, "'strategy: views' (\(strategyAt.line):\(strategyAt.column)) works through the versioned schemas: "
                   + "each application version reads its names from its schema's view; remove 'versioned_schemas: false' (the strategy turns them on), or use 'strategy: copy'")
        }
        let advice = "strategy: views makes no new column, trigger or backfill; move this change to a plan of its own (strategy: copy, the default)"
        // Names some change of the plan moves away or drops: a rename onto one would need two renames in order.
        let taken = Set(plan.changes.flatMap(\.existingColumns))
        for (index, change) in plan.changes.enumerated() {
            let what = "change \(index + 1) (\(change.kindName) \(change.existingColumns.first ?? change.createdColumns.first ?? ""))"
            guard case .alter(let c) = change else {
                let needs: String
                switch change {
                case .add: needs = "adds a column"
                case .drop: needs = "drops a column"
                case .split: needs = "splits a column into new ones"
                case .merge: needs = "merges columns into a new one"
                case .alter: needs = ""
                }
                refuse(change.location, "\(what) \(needs): \(advice)")
                continue
            }
            var needing: [(SourceLocation, String)] = []
            if let type = c.type { needing.append((type.location, "a type change needs a new column and a backfill")) }
            if let up = c.up { needing.append((up.location, "'up' computes values, which needs a backfill")) }
            if let down = c.down { needing.append((down.location, "'down' fills an old column from a new one, and there is none")) }
            if let carry = c.carry { needing.append((carry.location, "'carry' chooses what a rebuilt column inherits, and nothing is rebuilt")) }
            if let notNull = c.attributes.notNull, notNull.value {
                needing.append((notNull.location, "adding NOT NULL needs a constraint validated by verify"))
            }
            if let check = c.attributes.check { needing.append((check.location, "a CHECK needs validating")) }
            if let unique = c.attributes.unique { needing.append((unique.location, "'unique' builds or drops an index")) }
            if let references = c.attributes.references { needing.append((references.location, "a foreign key needs validating")) }
            for (location, why) in needing { refuse(location, "\(what): \(why): \(advice)") }
            if let renameTo = c.renameTo, taken.contains(renameTo.value) {
                refuse(renameTo.location, "\(what): \"\(renameTo.value)\" is a name another change of the plan moves away: strategy: views renames in place, one column at a time, so it cannot swap names; use strategy: copy")
            }
        }
        for constraint in plan.constraintChanges {
            refuse(constraint.location, "\(constraint.kindName) changes the table's constraints: \(advice)")
        }
        return findings
    }

    public static let projectRule = "plan-strategy-default"

    /// A project whose `bellows.yaml` says `strategy: views` (its applications go through their
    /// versioned schemas): a warning for a plan that renames, says no `strategy:` and would fit
    /// `views` — it copies. The strategy stays the plan file's own: expand and contract read
    /// the same file, so what expand did and what contract does never depend on another file.
    public static func projectFindings(_ plan: Plan, project: Located<PlanStrategy>?) -> [Finding] {
        guard let project, project.value == .views, plan.strategyKey == nil,
              let rename = plan.changes.first(where: { if case .alter(let c) = $0 { return c.renameTo != nil } else { return false } }) else { return [] }
        var asViews = plan
        asViews.strategyKey = Located(.views, at: plan.table.location)
        guard !findings(asViews, versionedSchemas: nil).hasErrors else { return [] }
        return [Finding(at: rename.location, severity: .warning, rule: projectRule,
                        message: "\((project.location.file as NSString).lastPathComponent):\(project.location.line) says strategy: views, and this plan's changes fit it, "
                            + "but the plan says no strategy, so it copies (a second column, a dual-write trigger, a backfill); "
                            + "write 'strategy: views' in the plan, or 'strategy: copy' to copy on purpose")]
    }

    /// The changes of a `strategy: views` plan the versioned schemas give their names: each
    /// renamed column with its new name.
    public static func renames(_ plan: Plan) -> [(old: String, new: String)] {
        guard plan.strategy == .views else { return [] }
        return plan.changes.compactMap { change in
            guard case .alter(let c) = change, let renameTo = c.renameTo else { return nil }
            return (c.column.value, renameTo.value)
        }
    }
}
