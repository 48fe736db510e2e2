/// The store's records, by pod UID for lookups and in dense slots for the
/// resync. A resync visits every record; in slots it reads them in order from
/// one array, where a map would hash each UID and chase a pointer into every
/// bucket: at 10,000 pods those cache misses, not the planning, were most of
/// a steady resync. A UID keeps its slot for as long as its record exists; a
/// freed slot is reused by a later UID.
///
/// A value (copy-on-write): the resync reads a copy while the store goes on.
struct RecordTable: Sendable {
    struct Slot: Sendable {
        /// The key (empty when the slot is free).
        var uid: String
        var record: PodRecord?
    }

    private(set) var slots: ContiguousArray<Slot> = []
    private var slotOf: [String: Int32] = [:]
    private var free: [Int32] = []
    /// Changes whenever a UID gains or loses its slot. Whatever maps UIDs to
    /// slots (the resync's observation index) is still right while it holds.
    private(set) var layout: UInt64 = 0

    init() {}

    init(_ records: [String: PodRecord]) {
        slots.reserveCapacity(records.count)
        slotOf.reserveCapacity(records.count)
        for (uid, r) in records { self[uid] = r }
    }

    var count: Int { slotOf.count }
    var isEmpty: Bool { slotOf.isEmpty }

    func slot(of uid: String) -> Int? { slotOf[uid].map(Int.init) }
    func contains(_ uid: String) -> Bool { slotOf[uid] != nil }

    subscript(uid: String) -> PodRecord? {
        get { slotOf[uid].flatMap { slots[Int($0)].record } }
        set {
            if let s = slotOf[uid] {
                if let newValue {
                    slots[Int(s)].record = newValue
                } else {
                    slots[Int(s)] = Slot(uid: "", record: nil)
                    slotOf[uid] = nil
                    free.append(s)
                    layout &+= 1
                }
            } else if let newValue {
                let s: Int32
                if let f = free.popLast() {
                    s = f
                    slots[Int(f)] = Slot(uid: uid, record: newValue)
                } else {
                    s = Int32(slots.count)
                    slots.append(Slot(uid: uid, record: newValue))
                }
                slotOf[uid] = s
                layout &+= 1
            }
        }
    }

    /// Every record with its UID, in slot order.
    var entries: some Sequence<(uid: String, record: PodRecord)> {
        slots.lazy.compactMap { s in s.record.map { (s.uid, $0) } }
    }

    var records: some Sequence<PodRecord> { slots.lazy.compactMap(\.record) }
}
