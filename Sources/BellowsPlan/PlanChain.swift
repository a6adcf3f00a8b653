import BellowsSQL

/// Plans build on each other: a plan may change a column an earlier plan adds or renames. Each
/// plan is checked and rendered against the schema the migrations build with every earlier
/// plan's contracted result applied (`Transition.tableAfterContract`), in sequence order, which
/// `depends_on` must follow (`plan-dependency-order`). Pure.
public enum PlanChain {
    /// What one plan is checked against.
    public struct Base: Sendable {
        public var catalog: SchemaCatalog
        /// Earlier plans on the same table whose contracted result the catalog holds.
        public var applied: [String]
        /// Earlier plans on the same table that could not be applied (they do not compile).
        public var unapplied: [String]
        /// The findings of compiling the plan against `catalog`'s table, as `bases` did to apply
        /// it (the plan's file and checksum say which plan; nil when it was not compiled):
        /// `PlanValidator.validate(_:catalog:compiled:)` takes them instead of compiling again.
        public var compiled: (file: String, checksum: String, findings: [Finding])?
    }

    /// Plans in the order they run: sequence number, then id.
    public static func ordered(_ plans: [Plan]) -> [Plan] {
        plans.sorted { ($0.number ?? Int.max, $0.id) < ($1.number ?? Int.max, $1.id) }
    }

    /// For each plan (by id), `base` with the plans before it applied. Plans in `skipping` are
    /// not applied (their changes are already in `base`, e.g. contracted before a baseline);
    /// a plan that does not compile against its base is left out of the later ones' bases.
    public static func bases(_ plans: [Plan], base: SchemaCatalog, skipping: Set<String> = []) -> [String: Base] {
        var catalog = base
        var applied: [String: [String]] = [:]
        var unapplied: [String: [String]] = [:]
        var result: [String: Base] = [:]
        for plan in ordered(plans) {
            let table = plan.table.value
            let key = "\(table.effectiveSchema).\(table.name)"
            let first = result[plan.id] == nil
            if first {
                result[plan.id] = Base(catalog: catalog, applied: applied[key] ?? [], unapplied: unapplied[key] ?? [])
            }
            guard !skipping.contains(plan.id), let before = catalog.table(table) else { continue }
            if plan.moveColumns != nil {
                let compiled = MoveCompiler.compile(plan, table: before, catalog: catalog)
                if first { result[plan.id]?.compiled = (plan.file, plan.checksum, compiled.findings) }
                guard let move = compiled.move else {
                    unapplied[key, default: []].append(plan.id)
                    continue
                }
                catalog = MoveCompiler.catalogAfterContract(move, catalog)
                applied[key, default: []].append(plan.id)
                continue
            }
            let compiled = TransitionCompiler.compile(plan, table: before)
            if first { result[plan.id]?.compiled = (plan.file, plan.checksum, compiled.findings) }
            guard let transition = compiled.transition else {
                unapplied[key, default: []].append(plan.id)
                continue
            }
            if plan.renameTableTo != nil { catalog.tables.removeAll { $0.schema == before.schema && $0.name == before.name } }
            catalog = catalog.replacing(transition.tableAfterContract)
            applied[key, default: []].append(plan.id)
        }
        return result
    }
}

extension SchemaCatalog {
    /// The catalog with `table` in place of the table of the same schema and name.
    public func replacing(_ table: TableInfo) -> SchemaCatalog {
        var tables = self.tables
        if let index = tables.firstIndex(where: { $0.schema == table.schema && $0.name == table.name }) {
            tables[index] = table
        } else {
            tables.append(table)
        }
        var catalog = self
        catalog.tables = tables
        return catalog
    }
}
