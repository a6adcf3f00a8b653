import BellowsPlan

extension Engine {
    /// The refusal of a plan whose id the state table holds for a plan on another table that
    /// is in progress or contracted — another project sharing the database with a plan of the
    /// same id, or another plan given the id. Nothing of this plan has run; every command of
    /// it is refused (before, it was told its file changed since expand, or that it was
    /// contracted) and `status` shows it as planned with this blocker. A plan planned or
    /// rolled back left nothing in the database: its id may be taken over (expand records the
    /// new table). Pure.
    static func planIDFailure(_ plan: Plan, state: PlanState) -> GateFailure? {
        guard state.expanding || ![Phase.planned, .rolledBack].contains(state.phase) else { return nil }
        // As registered from this plan's file (the lossy `a.b` of a table named "a.b"
        // included), or the same table however qualified.
        guard state.table != plan.table.value.description, !sameTable(state.table, plan.table.value) else { return nil }
        let origin = state.planPath.map { ", expanded from \($0)" } ?? ""
        return GateFailure(
            gate: "plan-id",
            message: "plan id \(plan.id) is already used in this database by a plan on \(state.table) (\(state.phase.rawValue)\(origin)): "
                + "another project sharing the database, or another plan given the same id; this plan (\(plan.file)) is on \(plan.table.value) and nothing of it has run",
            remedy: "give this plan another id: rename \(plan.file) with a number no plan in this database uses (plan ids are unique per database, across the projects that share it)")
    }
}
