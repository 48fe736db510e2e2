/// A value kept behind one reference, with value semantics: copying it is one
/// retain, not one per field (each a cache miss when thousands are walked), and
/// the first change to a shared copy copies the value. Coded as the value itself,
/// so a type that moves its fields in here keeps its JSON. `PodRecord` and
/// `JobObservation` store their fields this way.
public struct CopyOnWrite<Value: Sendable & Equatable>: Sendable, Equatable {
    /// Mutated only while uniquely referenced (`value`'s `_modify`), so sharing is safe.
    @usableFromInline final class Storage: @unchecked Sendable {
        @usableFromInline var value: Value
        @usableFromInline init(_ value: Value) { self.value = value }
    }
    @usableFromInline var storage: Storage

    @inlinable public init(_ value: Value) { storage = Storage(value) }

    @inlinable public var value: Value {
        _read { yield storage.value }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.value) }
            yield &storage.value
        }
    }

    /// Whether `other` is this very value (no change made in between: a change
    /// to a shared copy always makes a new one), not only an equal one. A pointer check.
    @inlinable public func isIdentical(to other: CopyOnWrite) -> Bool { storage === other.storage }

    @inlinable public static func == (a: CopyOnWrite, b: CopyOnWrite) -> Bool {
        a.storage === b.storage || a.storage.value == b.storage.value
    }
}

extension CopyOnWrite: Codable where Value: Codable {
    public init(from decoder: any Decoder) throws { self.init(try Value(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try storage.value.encode(to: encoder) }
}

extension CopyOnWrite: Hashable where Value: Hashable {
    @inlinable public func hash(into hasher: inout Hasher) { storage.value.hash(into: &hasher) }
}

/// A group of optional fields kept behind one optional `CopyOnWrite` reference,
/// which is nil whenever every field is: values that never set one of them and
/// values that set and cleared it are then equal, and cost one pointer.
public protocol OptionalFieldGroup: Sendable, Equatable {
    init()
    var isEmpty: Bool { get }
}

extension Optional {
    /// The group for `fields`: nil when it is empty.
    @inlinable public init<V: OptionalFieldGroup>(nonEmpty fields: V) where Wrapped == CopyOnWrite<V> {
        self = fields.isEmpty ? nil : CopyOnWrite(fields)
    }

    /// Sets one field of the group: the group is made when its first field is set
    /// and dropped when its last is cleared.
    @inlinable public mutating func set<V: OptionalFieldGroup, T>(_ field: WritableKeyPath<V, T?>, _ value: T?)
    where Wrapped == CopyOnWrite<V> {
        if self == nil {
            guard value != nil else { return }
            self = CopyOnWrite(V())
        }
        self!.value[keyPath: field] = value
        if self!.value.isEmpty { self = nil }
    }
}
