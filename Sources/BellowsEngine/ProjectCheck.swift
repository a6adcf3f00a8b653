import BellowsPlan
import BellowsSQL
import Foundation

/// `bellows check` and `bellows lint`: everything CI can prove without a database.
public enum ProjectCheck {
    /// Lints migration files. With no explicit paths, the project's `migrations/` directory.
    /// Lints SQL given as text (`bellows lint -`), as a migration file named `path`, with the
    /// project's lint configuration; every table it alters counts as existing.
    public static func lint(project: Project, source: String, path: String) -> [Finding] {
        let (configuration, configFindings) = ProjectConfig.lintConfiguration(path: (project.root as NSString).appendingPathComponent(ProjectConfig.fileName))
        // The rules about a migration file's name and number have no file to judge.
        let fileRules: Set<String> = [MigrationFileNameRule.id, DuplicateMigrationNumberRule.id, MigrationNumberGapRule.id, MigrationHeaderMismatchRule.id]
        return configFindings + Linter(configuration: configuration).lint(migrations: [MigrationSource(path: path, contents: source, hasRollbackFile: nil)])
            .filter { !fileRules.contains($0.rule) }
    }

    public static func lint(project: Project, paths: [String] = []) -> [Finding] {
        let (configuration, configFindings) = ProjectConfig.lintConfiguration(path: (project.root as NSString).appendingPathComponent(ProjectConfig.fileName))
        var sources: [MigrationSource] = []
        if paths.isEmpty, let outside = notAProject(project) { return [outside] }
        var findings = configFindings + missing(paths)
        let files: [(path: String, rollback: Bool?)]
        if paths.isEmpty {
            files = project.migrationFiles().map { ($0.path, $0.rollbackPath != nil) }
        } else {
            files = expand(paths.filter(FileManager.default.fileExists), extensions: ["sql"]).map { path in
                let directory = (path as NSString).deletingLastPathComponent
                let rollback = ((directory as NSString).appendingPathComponent("rollback") as NSString)
                    .appendingPathComponent((path as NSString).lastPathComponent)
                let inRollbackDirectory = (directory as NSString).lastPathComponent == "rollback"
                return (path, inRollbackDirectory ? nil : FileManager.default.fileExists(atPath: rollback))
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file.path), let text = String(data: data, encoding: .utf8) else {
                findings.append(Finding(file: file.path, line: 1, column: 1, severity: .error, rule: "io-error", message: "cannot read the file as UTF-8 text"))
                continue
            }
            sources.append(MigrationSource(path: file.path, contents: text, hasRollbackFile: file.rollback))
        }
        return findings + Linter(configuration: configuration).lint(migrations: sources)
    }

    /// Loads and validates plans (all of the project's, or `paths`), against the schema the
    /// migrations build, or with `live` against a live database's (`check --database`; see
    /// ``LiveSchema``); with `includeLint`, lints the migrations too.
    public static func check(project: Project, paths: [String] = [], includeLint: Bool = true, live: LiveSchema? = nil) -> [Finding] {
        if paths.isEmpty, let outside = notAProject(project) { return [outside] }
        let planPaths = paths.isEmpty ? project.planFiles() : expand(paths.filter(FileManager.default.fileExists), extensions: ["yaml", "yml"])
        var findings = missing(paths)
        var plans: [Plan] = []
        for path in planPaths {
            let result = PlanLoader.load(path: path)
            findings += result.findings
            if let plan = result.plan { plans.append(plan) }
        }
        // bellows.yaml's `strategy: views`: plans of renames say theirs.
        let projectStrategy = ProjectConfig.strategy(root: project.root)
        // Not for a plan the database has expanded or contracted: its strategy was fixed at
        // expand, and editing the file would stop its next phase (hostile-g 08).
        for plan in plans where live.map({ live in
            live.plans[plan.id].map { !$0.inFlight && $0.phase != .contracted } ?? true
        }) ?? true {
            findings += ViewsStrategy.projectFindings(plan, project: projectStrategy)
        }
        let migrations = project.migrationFiles()
        if let live {
            let everyPlan = paths.isEmpty ? plans : project.loadPlans().plans
            for plan in plans {
                let (catalog, note) = live.catalog(for: plan, among: everyPlan)
                var planFindings = PlanValidator.validate(plan, catalog: catalog, database: live.name)
                if plan.moveColumns != nil, live.plans[plan.id]?.inFlight == true {
                    // Its `to` is its own new table, there since expand (hostile-h 25).
                    planFindings.removeAll { $0.rule == "plan-name-collision" }
                }
                findings += planFindings
                if let note { findings.append(Finding(file: plan.file, line: 1, column: 1, severity: .info, rule: "schema-source", message: note)) }
                if live.plans[plan.id]?.inFlight != true && live.plans[plan.id]?.phase != .contracted {
                    // What expand's table gates refuse for this plan: the publication gate only
                    // for a plan that adds columns, and the replica identity it would drop.
                    let transition = plan.moveColumns != nil ? nil : catalog.flatMap { TransitionCompiler.compile(plan, table: $0.table(plan.table.value)).transition }
                    let addsColumns = transition.map { !$0.newTargets.isEmpty } ?? (plan.moveColumns == nil)
                    var refusals = live.tableRefusals(for: plan).filter { addsColumns || $0.gate != "publication" }
                    if plan.moveColumns != nil, let move = catalog.flatMap({ MoveCompiler.compile(plan, table: $0.table(plan.table.value)).move }) {
                        // A move's publication gate: publications sending a moved column (hostile-h 08).
                        refusals += Engine.movePublicationFailures(move, publications: live.publishedColumns[plan.table.value.quoted] ?? [:])
                    }
                    // A plan on the new table of a move in flight (hostile-h 25).
                    let mine = TableName(schema: live.catalog.schema(of: plan.table.value), name: plan.table.value.name)
                    for other in everyPlan where other.id != plan.id && live.plans[other.id]?.inFlight == true {
                        guard let move = other.moveColumns,
                              TableName(schema: move.to.value.schema ?? live.catalog.schema(of: other.table.value), name: move.to.value.name) == mine else { continue }
                        refusals.append(GateFailure(gate: "conflict", message: "\(mine) is the new table of plan \(other.id) (\(live.plans[other.id]?.phase.rawValue ?? "in flight")), "
                                                    + "whose triggers write it by name and read its columns until it is contracted",
                                                    remedy: "contract or roll back \(other.id) first"))
                    }
                    if let transition { refusals += Engine.replicaIdentityFailures(transition, publications: live.changePublications[plan.table.value.quoted] ?? []) }
                    if let transition, !addsColumns {
                        refusals += Engine.publicationFailures(table: plan.table.value.quoted, renames: transition.renamedInPlace,
                                                               publishedWhole: live.wholePublications[plan.table.value.quoted] ?? [])
                    }
                    refusals += Self.tableRenameRefusals(plan, live: live)
                    for failure in refusals {
                        findings.append(Finding(file: plan.file, line: plan.table.location.line, column: plan.table.location.column, severity: .error,
                                                rule: "plan-table-refused", message: "expand would refuse (gate \(failure.gate)): \(failure.message)"
                                                    + (failure.remedy.map { "; \($0)" } ?? "")))
                    }
                }
                let schema = live.catalog.schema(of: plan.table.value)
                if plan.table.value.schema == nil, schema != "public" {
                    findings.append(Finding(file: plan.file, line: plan.table.location.line, column: plan.table.location.column, severity: .info, rule: "schema-source",
                                            message: "\(plan.table.value.name) is \(schema).\(plan.table.value.name) by the session's search_path (as the phases resolve it)"))
                }
            }
            var tables: [String: TableInfo?] = [:]
            findings += PlanValidator.crossPlan(plans, migrationNames: migrations.map(\.name)) { plan in
                if let known = tables[plan.id] { return known }
                let table = live.catalog(for: plan, among: everyPlan).catalog?.table(plan.table.value)
                tables[plan.id] = table
                return table
            }
        } else {
            // Plans the baseline already holds are not applied to it again (their columns are gone);
            // every other plan is checked against the schema as the plans before it leave it.
            let contracted = project.contractedBeforeBaseline()
            let bases = migrations.isEmpty ? [:] : chainedBases(project, plans: plans, contracted: contracted)
            for plan in plans {
                if contracted.contains(plan.id) {
                    findings.append(Finding(file: plan.file, line: 1, column: 1, severity: .info, rule: "schema-source",
                                            message: "\(plan.id) was contracted before the baseline (\(MigrationRunner.baselineName) holds its changes); not checked against it"))
                } else {
                    let base = bases[plan.id]
                    // The chain compiled the plan against this catalog already: its findings are reused.
                    let compiled = base?.compiled.flatMap { $0.file == plan.file && $0.checksum == plan.checksum ? $0.findings : nil }
                    findings += PlanValidator.validate(plan, catalog: base?.catalog, compiled: compiled)
                    if let base, !base.unapplied.isEmpty {
                        findings.append(Finding(file: plan.file, line: 1, column: 1, severity: .info, rule: "schema-source",
                                                message: "checked without the changes of \(base.unapplied.joined(separator: ", ")), which \(base.unapplied.count == 1 ? "has" : "have") errors"))
                    }
                }
            }
            findings += PlanValidator.crossPlan(plans, migrationNames: migrations.map(\.name)) { bases[$0.id]?.catalog.table($0.table.value) }
            if paths.isEmpty && !migrations.isEmpty { findings += configHintFindings(project, plans: plans) }
        }
        // Every migration test must belong to a migration: one that names none never runs.
        if paths.isEmpty { findings += MigrationTestCheck.findings(tests: project.migrationTestFiles(), migrations: migrations) }
        let sqlPaths = paths.isEmpty ? [] : expand(paths.filter(FileManager.default.fileExists), extensions: ["sql"])
        if includeLint && (paths.isEmpty || !sqlPaths.isEmpty) {
            findings += lint(project: project, paths: sqlPaths)
        }
        return findings.sortedForReading()
    }

    /// What `check` reports for one plan, so that every phase refuses what `check` rejects:
    /// the project's plans are checked together (the cross-plan rules need them all, and `plan`
    /// joins them when its file lies elsewhere), and the findings in `plan`'s file are kept.
    /// With `live`, against that database's catalog (the phases run against a database: their
    /// gate judges what it holds, not what the files model).
    public static func check(project: Project, plan: Plan, live: LiveSchema? = nil) -> [Finding] {
        func standard(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        let own = standard(plan.file)
        var paths = project.planFiles()
        if !paths.contains(where: { standard($0) == own }) { paths.append(plan.file) }
        return check(project: project, paths: paths, includeLint: false, live: live).filter { standard($0.file) == own }
    }

    /// `bellows.yaml`'s `rehearse: values:` keys name a table the migrations build and a column
    /// it has or a plan on it creates; any other is a typo the rehearsal would ignore.
    static func configHintFindings(_ project: Project, plans: [Plan]) -> [Finding] {
        let entries = ProjectConfig.rehearsalValues(root: project.root)
        guard !entries.isEmpty else { return [] }
        let catalog = offlineCatalog(project)
        var findings: [Finding] = []
        for entry in entries {
            guard let table = catalog.table(entry.tableName) else {
                var message = "rehearse.values names table \(entry.table.value), which no migration creates: the rehearsal would ignore its hints"
                if let s = Suggestion.closest(to: entry.table.value, in: catalog.tables.map(\.name)) { message += "; did you mean \"\(s)\"?" }
                findings.append(Finding(at: entry.table.location, severity: .error, rule: "plan-unknown-table", message: message))
                continue
            }
            let known = table.columns.map(\.name) + plans.filter { $0.table.value.name == table.name }.flatMap { $0.changes.flatMap(\.createdColumns) }
            for hint in entry.values where !known.contains(hint.column.value) {
                var message = "rehearse.values.\(entry.table.value) names \"\(hint.column.value)\", which is neither a column of \(table.schema).\(table.name) nor one a plan creates: the rehearsal would ignore the hint"
                if let s = Suggestion.closest(to: hint.column.value, in: known) { message += "; did you mean \"\(s)\"?" }
                findings.append(Finding(at: hint.column.location, severity: .error, rule: "plan-unknown-column", message: message))
            }
        }
        return findings
    }

    /// The schema the migrations build.
    static func offlineCatalog(_ project: Project) -> SchemaCatalog {
        MigrationSchema.catalog(fromMigrations: project.migrationFiles().compactMap {
            FileManager.default.contents(atPath: $0.path).flatMap { String(data: $0, encoding: .utf8) }
        })
    }

    /// What each of `plans` is checked and rendered against offline: the schema the migrations
    /// build with the contracted result of every plan of the project before it (`PlanChain`;
    /// `plans` stand in for the project's files of the same id), except those contracted before
    /// the baseline, which it already holds.
    static func chainedBases(_ project: Project, plans: [Plan], contracted: Set<String>) -> [String: PlanChain.Base] {
        let given = Set(plans.map(\.id))
        // Only the files of the other plans are loaded (`check` has loaded every plan already).
        let others = project.planFiles().filter { !given.contains(PlanLoader.planID(ofFile: $0)) }.compactMap { PlanLoader.load(path: $0).plan }
        let chain = plans + others.filter { !given.contains($0.id) }
        return PlanChain.bases(chain, base: offlineCatalog(project), skipping: contracted)
    }

    /// What expand refuses for a plan with `rename_table_to` on a table a publication sends
    /// under its name (hostile-h 07); nothing for other plans.
    static func tableRenameRefusals(_ plan: Plan, live: LiveSchema) -> [GateFailure] {
        guard let rename = plan.renameTableTo else { return [] }
        return Engine.tableRenamePublicationFailures(table: plan.table.value.quoted, to: rename.value,
                                                     publications: live.namePublications[plan.table.value.quoted] ?? [])
    }

    /// The rendering of one plan: every phase's SQL, against the schema the migrations build,
    /// or with `live` against the database's (as `check --database` picks it), for a server of
    /// `serverVersion` (`server_version_num`; nil: the live database's, else the oldest
    /// supported). The first line names the schema used.
    public static func render(project: Project, plan reference: String, phase: PhaseCommand?, serverVersion: Int? = nil,
                              live: LiveSchema? = nil) throws -> String {
        try rendered(project: project, plan: reference, phase: phase, serverVersion: serverVersion, live: live).sql
    }

    /// `render`'s script and the archive contract will fill (its expected size with a live
    /// database that read the table's statistics, `LiveSchema.read(…statisticsOf:)`; nil when
    /// contract drops nothing).
    public static func rendered(project: Project, plan reference: String, phase: PhaseCommand?, serverVersion: Int? = nil,
                                live: LiveSchema? = nil) throws -> (sql: String, archive: ArchiveSize?) {
        let version = serverVersion ?? live?.serverVersion ?? ServerVersion.renderDefault
        if ServerVersion.refusal(serverVersion: version) != nil {
            throw BellowsError.usage("--server-version \(ServerVersion.given(version)): Bellows supports PostgreSQL \(ServerVersion.oldestSupportedMajor) or later (tested on \(ServerVersion.testedMajors.map(String.init).joined(separator: ", ")))")
        }
        let plan = try project.resolvePlan(reference)
        var header = "-- schema: \((project.migrationsDirectory as NSString).lastPathComponent)/ (offline; --database renders against a live catalog)\n"
        let catalog: SchemaCatalog
        if let live {
            let chosen = live.catalog(for: plan, among: project.loadPlans().plans)
            guard let liveCatalog = chosen.catalog else {
                throw BellowsError.usage(chosen.note ?? "plan \(plan.id) is contracted on the \(live.name)")
            }
            catalog = liveCatalog
            header = "-- schema: the \(live.name), live catalog\n" + (chosen.note.map { "-- \($0)\n" } ?? "")
            var refusals = live.tableRefusals(for: plan)
            if plan.moveColumns != nil {
                // A move adds no column to the source; its publication gate is the moved columns' (hostile-h 08).
                refusals.removeAll { $0.gate == "publication" }
                if let move = MoveCompiler.compile(plan, table: catalog.table(plan.table.value)).move {
                    refusals += Engine.movePublicationFailures(move, publications: live.publishedColumns[plan.table.value.quoted] ?? [:])
                }
            }
            if plan.renameTableTo != nil {
                // A table rename adds no column: the publications' refusal for it is its own (hostile-h 07).
                refusals.removeAll { $0.gate == "publication" }
                refusals += tableRenameRefusals(plan, live: live)
            }
            for failure in refusals {
                header += "-- expand would refuse (gate \(failure.gate)): \(failure.message)\n"
            }
        } else {
            let base = chainedBases(project, plans: [plan], contracted: project.contractedBeforeBaseline())[plan.id]
            catalog = base?.catalog ?? offlineCatalog(project)
            if let base, !base.applied.isEmpty {
                header += "-- \(plan.table.value) as \(base.applied.joined(separator: ", ")) \(base.applied.count == 1 ? "leaves" : "leave") it once contracted\n"
            }
        }
        if plan.moveColumns != nil {
            let compiled = MoveCompiler.compile(plan, table: catalog.table(plan.table.value))
            guard let move = compiled.move else {
                throw BellowsError.planInvalid(compiled.findings.isEmpty ? [Finding(at: plan.table.location, severity: .error, rule: "plan-unknown-table",
                                                                                    message: "table \(plan.table.value) is not in the schema")] : compiled.findings)
            }
            return (header + MoveSQL(move).rendered(phases: phase.map { [$0] } ?? PhaseCommand.allCases), nil)
        }
        let compiled = TransitionCompiler.compile(plan, table: catalog.table(plan.table.value))
        guard var transition = compiled.transition else { throw BellowsError.planInvalid(compiled.findings) }
        transition.notNullShape = NotNullShape.preferred(serverVersion: version)
        let archiveDefault = ProjectConfig.archiveSettings(root: project.root).archive
        let archive = ArchiveSQL(transition).size(
            off: ArchiveSQL.off(plan: plan, projectDefault: archiveDefault),
            statistics: live?.tableStatistics[plan.table.value.quoted],
            withoutStatistics: live == nil ? "not estimated offline: render -d reads the table's rows and its columns' widths (pg_stats)"
                                           : "not estimated: \(plan.table.value) is not in the \(live?.name ?? "database")")
        let sql = header + PhaseRendering.text(transition, phases: phase.map { [$0] } ?? PhaseCommand.allCases,
                                               serverVersion: version, versionGiven: serverVersion != nil,
                                               versionSource: serverVersion == nil && live != nil ? "the database's" : nil,
                                               archiveDefault: archiveDefault, archiveSize: archive)
        return (sql, archive)
    }

    /// An `io-error` (exit 2) when the project directory is no project: `check` in the wrong
    /// directory must not report "no findings".
    static func notAProject(_ project: Project) -> Finding? {
        project.exists ? nil : Finding(file: URL(fileURLWithPath: project.root).standardizedFileURL.path, line: 1, column: 1,
                                       severity: .error, rule: "io-error", message: project.notAProjectMessage)
    }

    /// An `io-error` for each path that does not exist: a mistyped path must not pass as clean.
    static func missing(_ paths: [String]) -> [Finding] {
        paths.filter { !FileManager.default.fileExists(atPath: $0) }.map {
            Finding(file: $0, line: 1, column: 1, severity: .error, rule: "io-error", message: "no such file or directory")
        }
    }

    /// Files under `paths` (files as given, directories searched one level) with one of `extensions`.
    static func expand(_ paths: [String], extensions: Set<String>) -> [String] {
        paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                return extensions.contains((path as NSString).pathExtension.lowercased()) ? [path] : []
            }
            if isDirectory.boolValue { return Project.files(in: path, extensions: extensions) }
            return extensions.contains((path as NSString).pathExtension.lowercased()) ? [path] : []
        }
    }
}

/// The human-readable rendering of a transition's phases, as `bellows render` prints it.
public enum PhaseRendering {
    /// `serverVersion` (`server_version_num`) is the version the SQL is rendered for; the header
    /// says so, and whether it was asked for (`--server-version`), is `versionSource` (the
    /// database's), or is the oldest supported.
    public static func text(_ transition: Transition, phases: [PhaseCommand], serverVersion: Int = ServerVersion.renderDefault,
                            versionGiven: Bool = false, versionSource: String? = nil, archiveDefault: Bool? = nil,
                            archiveSize: ArchiveSize? = nil) -> String {
        let sql = PhaseSQL(transition)
        var out = "-- plan \(transition.plan.id) on \(SQLQuote.commentText(transition.tableName.description)) (sha256 \(transition.plan.checksum.prefix(16)))\n"
        out += "-- rendered for PostgreSQL \(ServerVersion.given(serverVersion))"
            + (versionSource.map { " (\($0))\n" } ?? (versionGiven ? " (--server-version)\n" : " (the oldest supported; --server-version N renders for another)\n"))
        if transition.plan.strategy == .views {
            let renames = transition.renamedInPlace.map { "\($0.old) -> \($0.new)" }
            out += "-- strategy: views: no new column, no dual-write trigger, no backfill; each application version reads its names\n"
                + "-- through its versioned schema, and contract renames in place (RENAME COLUMN keeps every property of the column)"
                + (renames.isEmpty ? "" : ": " + renames.joined(separator: ", ")) + "\n"
        }
        if transition.allTargets.contains(where: \.addsNotNull) {
            out += transition.notNullShape == .notNull
                ? "-- NOT NULL: a NOT VALID NOT NULL constraint, validated by verify, kept and renamed by contract (PostgreSQL 18+)\n"
                : "-- NOT NULL: a NOT VALID CHECK, validated by verify; contract sets NOT NULL through it (no scan) and drops it"
                    + " (PostgreSQL 18+ uses a NOT VALID NOT NULL constraint instead)\n"
        }
        if !transition.carried.isEmpty {
            out += "-- what depends on the replaced columns, and what the plan does with it:\n"
            out += transition.carried.map { "--   \($0.line)\n" }.joined()
        }
        if !transition.constraints.isEmpty {
            out += "-- table constraints the plan adds or drops:\n"
            out += transition.constraints.map { "--   \($0.line)\n" }.joined()
        }
        if transition.needsTrigger {
            out += "-- names in up, down and checks resolve under search_path = \(sql.searchPath) in the trigger and every phase\n"
                + "-- (shown with the default path; expand keeps the schemas of the session that runs it)\n"
            if !sql.pinnedSettings.isEmpty {
                out += "-- values are computed under the expanding session's \(sql.pinnedSettings.joined(separator: ", ")),\n"
                    + "-- kept by the trigger (it sets those a writer's session has others of; shown with PostgreSQL's built-in\n"
                    + "-- values) and every phase; expand prints TimeZone and DateStyle, warns\n"
                    + "-- about a value the connection chose (PGTZ, PGOPTIONS, ALTER ROLE … SET) and history records them all;\n"
                    + "-- when expand finds up and down independent of every setting, the trigger it makes keeps none\n"
            }
        }
        for phase in phases {
            out += "\n-- ===== \(phase.rawValue) =====\n"
            if phase == .expand, transition.needsTrigger {
                out += """
                    -- before the trigger is created, each up, backfill and down is probed as the trigger runs it, over the row
                    -- (SELECT (expr)::type FROM (SELECT * FROM table LIMIT 0) AS bellows_row),
                    -- and every role that may INSERT or UPDATE the table must be able to use what it uses (USAGE on schemas,
                    -- EXECUTE on functions and operators, USAGE on types and sequences, SELECT on other tables' columns):
                    -- the trigger runs as the writer. Otherwise expand is refused, naming each role and the GRANT.

                    """
            }
            if phase == .backfill, sql.needsBackfill {
                out += """
                    -- each batch sets bellows.backfill = '\(sql.backfillMarker)' (the dual-write trigger stands aside), synchronous_commit = off,
                    -- and session_replication_role = replica when the role may (a superuser, or PostgreSQL 15+ after
                    -- GRANT SET ON PARAMETER session_replication_role): the table's own triggers then do not fire for the
                    -- rows the backfill fills. Otherwise they fire for every row; expand and backfill name them.
                    -- The walk ends at the table's largest key when the backfill starts (\(sql.backfillUpperBound), kept with
                    -- the cursor, so a resume ends there too): every row written after expand is the dual-write trigger's.
                    -- `bellows backfill \(transition.plan.id) --rescan` (after writes that bypassed the trigger) runs the same batches
                    -- from the first key over the rows verify's condition counts as disagreeing, recomputing them with up.

                    """
            }
            let archive = ArchiveSQL(transition)
            if phase == .contract, !archive.isEmpty {
                out += archiveText(archive, enabled: ArchiveSQL.enabled(plan: transition.plan, projectDefault: archiveDefault), size: archiveSize)
            }
            let statements = sql.statements(for: phase)
            if statements.isEmpty {
                out += transition.plan.strategy == .views && (phase == .backfill || phase == .verify)
                    ? "-- (nothing to do: strategy: views copies no column, so no backfill runs and verify has nothing to compare)\n"
                    : "-- (nothing to do)\n"
            }
            var inTransaction = false
            for statement in statements {
                if statement.mode == .transaction && !inTransaction && phase != .backfill && phase != .verify {
                    out += "BEGIN;\nSET LOCAL lock_timeout = '\(transition.plan.backfill.lockTimeoutMilliseconds)ms';\n"
                    inTransaction = true
                }
                if statement.mode == .standalone && inTransaction { out += "COMMIT;\n"; inTransaction = false }
                out += "-- \(SQLQuote.commentText(statement.purpose))\(statement.mode == .standalone ? " (outside a transaction)" : "")\n\(statement.sql);\n"
            }
            if inTransaction { out += "COMMIT;\n" }
            if phase == .backfill, sql.needsBackfill {
                let first = sql.backfillBatch(first: true)
                out += "-- the first batch has no cursor:\n\(first.bound);\n\(first.update);\n"
            }
        }
        return out
    }

    /// Contract's archive step (`ArchiveSQL`): before contract's transaction, and completed in it.
    static func archiveText(_ archive: ArchiveSQL, enabled: Bool, size: ArchiveSize? = nil) -> String {
        let columns = archive.columns.map(\.name).joined(separator: ", ")
        guard enabled else {
            return "-- archive: off (\(size?.off ?? "`archive: false`")): the values of \(columns) are gone for good once contract commits\n"
        }
        var out = """
            -- archive: first, contract keeps the column(s) it drops (\(columns)) in \(archive.qualifiedTable),
            -- keyed by (\(archive.key.map(\.name).joined(separator: ", "))); `bellows archive restore \(archive.transition.plan.id)` brings them back
            -- beside the new ones, `bellows archive purge` removes it (`archive: false` in the plan or bellows.yaml: no archive).

            """
        if let size {
            if let bytes = size.bytes, let rows = size.rows {
                out += "-- expected size: about \(ByteCount.text(bytes)) for \(size.rowsCounted == true ? "" : "~")\(rows) rows (\(size.source))\n"
            } else {
                out += "-- expected size: \(size.source)\n"
            }
        }
        out += """
            -- Refused before any change when the role may not create it. The trigger keeps it up to date while keyset
            -- batches (paced as the backfill, up to the largest key once the trigger is in place) copy every row:

            """
        for group in [archive.prepareTable, archive.prepareTrigger] {
            out += "BEGIN;\n" + group.map { "-- \($0.purpose)\n\($0.sql);\n" }.joined() + "COMMIT;\n"
        }
        out += "-- each batch (its last key, then its rows; the first has no cursor):\n\(archive.keyset.bound(first: false));\n\(archive.batch(first: false));\n"
        out += "-- in contract's transaction, right after its ACCESS EXCLUSIVE lock (no write can reach the table any more):\n"
        out += archive.complete.map { "-- \($0.purpose)\n\($0.sql);\n" }.joined()
        return out + "\n"
    }
}
