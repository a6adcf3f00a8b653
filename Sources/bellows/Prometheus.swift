import BellowsEngine
import BellowsPlan
import Foundation

/// `bellows status --format prometheus`: the board as metrics in Prometheus' text exposition
/// format, for a node-exporter textfile collector or a scrape job (pure; docs/operations.md).
enum PrometheusText {
    struct Metric {
        var name: String
        var type: String
        var help: String
        var samples: [(labels: [(String, String)], value: Double)]
    }

    static func render(_ board: [PlanStatus]) -> String {
        func labels(_ plan: PlanStatus) -> [(String, String)] { [("plan", plan.id), ("table", plan.table)] }
        func flag(_ value: Bool) -> Double { value ? 1 : 0 }
        var metrics = [
            Metric(name: "bellows_plan_phase", type: "gauge",
                   help: "The plan's phase: 1 for the phase it is in, 0 for the others.",
                   samples: board.flatMap { plan in
                       Phase.allCases.map { phase in (labels(plan) + [("phase", phase.rawValue)], flag(plan.phase == phase)) }
                   }),
            Metric(name: "bellows_plan_expanding", type: "gauge",
                   help: "1 while an expand was interrupted before its index builds (run expand again).",
                   samples: board.map { (labels($0), flag($0.expanding)) }),
            Metric(name: "bellows_plan_blockers", type: "gauge",
                   help: "How many gates keep the plan's next command from running now.",
                   samples: board.map { (labels($0), Double($0.blockers.count)) }),
            Metric(name: "bellows_backfill_rows_total", type: "counter",
                   help: "Rows the plan's backfill has updated (0 again after a rollback); rate() of it is the backfill's rate.",
                   samples: board.map { (labels($0), Double($0.backfillRows)) }),
            Metric(name: "bellows_backfill_progress_ratio", type: "gauge",
                   help: "How far the backfill is, 0 to 1 (rows updated over the table's estimated rows; 1 once backfilled).",
                   samples: board.map { (labels($0), $0.backfillFraction) }),
            Metric(name: "bellows_table_estimated_rows", type: "gauge",
                   help: "The planner's estimate of the plan's table's rows (pg_class.reltuples).",
                   samples: board.compactMap { plan in plan.estimatedRows.map { (labels(plan), Double($0)) } }),
            Metric(name: "bellows_backfill_paused", type: "gauge",
                   help: "1 while the plan's backfill is paused (bellows pause; bellows resume goes on).",
                   samples: board.map { (labels($0), flag($0.control?.paused == true)) }),
            Metric(name: "bellows_backfill_throttled", type: "gauge",
                   help: "1 while a throttle is set for the plan's backfill (bellows throttle).",
                   samples: board.map { (labels($0), flag($0.control?.maxRowsPerSecond != nil || $0.control?.batchSize != nil)) }),
            Metric(name: "bellows_backfill_max_rows_per_second", type: "gauge",
                   help: "The throttle's rate limit, when one is set (bellows throttle --max-rows-per-second).",
                   samples: board.compactMap { plan in plan.control?.maxRowsPerSecond.map { (labels(plan), Double($0)) } }),
            Metric(name: "bellows_backfill_batch_size_limit", type: "gauge",
                   help: "The throttle's batch size, when one is set (bellows throttle --batch-size).",
                   samples: board.compactMap { plan in plan.control?.batchSize.map { (labels(plan), Double($0)) } }),
        ]
        metrics.removeAll { $0.samples.isEmpty }
        var text = ""
        for metric in metrics {
            text += "# HELP \(metric.name) \(escapeHelp(metric.help))\n# TYPE \(metric.name) \(metric.type)\n"
            for sample in metric.samples {
                let set = sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
                text += "\(metric.name){\(set)} \(number(sample.value))\n"
            }
        }
        return text
    }

    /// A sample value: whole numbers without a fraction, others with up to 6 digits after the point.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// HELP text escapes backslash and line feed.
    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
