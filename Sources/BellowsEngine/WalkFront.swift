import PGClient

/// The key ranges a backfill's walkers have taken, in key order, and the cursor it may save.
///
/// With `backfill.workers` above 1, batches over consecutive key ranges run side by side on
/// several sessions and commit in any order. The saved cursor must never pass a range that
/// has not committed: a resumed backfill starts after the cursor, and a range past it is never
/// walked again. So the cursor is the end of the longest run of committed ranges from the
/// walk's start, and a range counts as committed only once its `COMMIT` has returned. A
/// range that committed without the walk knowing it (a walker stopped while committing) is
/// merely walked again on resume, where the batch's pending condition finds nothing left to
/// do in it: the cursor may lag, never lead.
///
/// Pure: the backfill takes ranges and reports them walked; it saves what `cursor` says.
struct WalkFront: Equatable {
    /// A range `(start, end]` taken and not yet walked to its end; `start` moves up as the
    /// range is walked in parts. A nil `start` is the table's first key.
    struct Range: Equatable {
        var id: Int
        var start: [String]?
        var end: [String]
    }

    /// Where the next range starts: the end of the last one taken.
    private(set) var next: [String]?
    /// Ranges taken and not walked to their end, in key order.
    private(set) var open: [Range] = []
    private var lastID = 0

    /// A walk that starts after `cursor` (nil: at the table's first key).
    init(cursor: [String]?) {
        next = cursor
    }

    /// Every key up to here is walked and committed (nil: none yet, from the table's start).
    var cursor: [String]? {
        // An open range's nil start is the table's first key: nothing is done yet.
        guard let first = open.first else { return next }
        return first.start
    }

    /// Takes the next range, up to `end`; returns its id.
    mutating func take(upTo end: [String]) -> Int {
        lastID += 1
        open.append(Range(id: lastID, start: next, end: end))
        next = end
        return lastID
    }

    /// The open range `id`, if it is one.
    func range(_ id: Int) -> Range? { open.first { $0.id == id } }

    /// Range `id` is walked and committed up to `key`; at its end, it is closed.
    mutating func walked(_ id: Int, to key: [String]) {
        guard let index = open.firstIndex(where: { $0.id == id }) else { return }
        if PostgresArray.sameKey(key, open[index].end) {
            open.remove(at: index)
        } else {
            open[index].start = key
        }
    }

    /// The cursor to save with a batch that ends at `key`: in range `id`, or, when nil, a new
    /// range at the front (from `next`), as if that batch had committed.
    func cursor(afterBatchTo key: [String], in id: Int?) -> [String]? {
        var front = self
        front.walked(id ?? front.take(upTo: key), to: key)
        return front.cursor
    }
}
