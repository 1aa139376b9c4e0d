/// How far one visit of a map state is, kept on its workflow's row: an item's completion updates
/// it and takes the next items' inputs (resolved once, when the map was entered) instead of
/// reading its siblings and the context, so it costs the same whatever the map's size.
struct MapProgress: Sendable, Hashable {
    var visit: Int64
    var items: Int
    /// Items that have (or had) a task: the next item to schedule is this index.
    var scheduled: Int
    var completed: Int
    /// Items dead-lettered: they hold no slot (an ops retry puts them back in flight).
    var dead: Int

    var inFlight: Int { scheduled - completed - dead }

    var json: JSONValue {
        ["visit": .number(Double(visit)), "items": .number(Double(items)), "scheduled": .number(Double(scheduled)),
         "completed": .number(Double(completed)), "dead": .number(Double(dead))]
    }

    init(visit: Int64, items: Int, scheduled: Int, completed: Int = 0, dead: Int = 0) {
        self.visit = visit
        self.items = items
        self.scheduled = scheduled
        self.completed = completed
        self.dead = dead
    }

    init?(json: JSONValue) {
        guard let visit = json["visit"]?.numberValue, let items = json["items"]?.numberValue, let scheduled = json["scheduled"]?.numberValue,
            let completed = json["completed"]?.numberValue, let dead = json["dead"]?.numberValue
        else { return nil }
        self.init(visit: Int64(visit), items: Int(items), scheduled: Int(scheduled), completed: Int(completed), dead: Int(dead))
    }
}
