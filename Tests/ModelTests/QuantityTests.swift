import Testing
@testable import Model

@Suite struct QuantityTests {
    @Test(arguments: [
        ("500m", Int64(500)),
        ("1.5", 1500),
        ("0.1", 100),
        ("1", 1000),
        ("+2", 2000),
        ("1.", 1000),
        (".5", 500),
        ("0", 0),
        ("128Mi", 134_217_728_000),
        ("100Ki", 102_400_000),
        ("1Gi", 1_073_741_824_000),
        ("1G", 1_000_000_000_000),
        ("1k", 1_000_000),
        ("1M", 1_000_000_000),
        ("1e3", 1_000_000),
        ("1E3", 1_000_000),
        ("1e+3", 1_000_000),
        ("1.5E-2", 15),
        ("0.001E", 1_000_000_000_000_000_000),  // E alone is exa, not an exponent
        ("1P", 1_000_000_000_000_000_000),
        ("1E", nil),                          // 1e21 millis does not fit
        ("250u", 1),                          // 0.00025 rounds up to 1m
        ("1n", 1),
        ("0.0001", 1),
        ("1e-1000", 1),
        ("1.0001m", 2),
        ("0.5Ki", 512_000),
        ("000001.5000", 1500),
        ("7Ei", nil),                         // 8.07e21 millis does not fit
        ("1e20", nil),
        ("9223372036854775807", nil),
    ] as [(String, Int64?)])
    func parsesLikeKubernetes(text: String, milli: Int64?) throws {
        if let milli {
            #expect(try Quantity.parse(text).milliValue == milli)
        } else {
            #expect(throws: QuantityError("invalid quantity \"\(text)\" for resource")) {
                try Quantity.parse(text)
            }
        }
    }

    @Test(arguments: ["", "1.2.3", "5x", "Mi", "--1", " 1", "1 ", "1 Mi", "1K", "1mi", "e3", "1e", "1e3.5",
                      "1Ki3", ".", "+", "1e99999999999", "１", "0x10", "1_000"])
    func rejectsMalformedText(text: String) {
        #expect(throws: QuantityError("invalid quantity \"\(text)\" for memory of container app")) {
            try Quantity.parse(text, for: "memory of container app")
        }
    }

    @Test func rejectsNegativeResourceAmounts() {
        #expect(throws: QuantityError("invalid quantity \"-1\" for cpu: it must not be negative")) {
            try Quantity.parse("-1", for: "cpu")
        }
        #expect(throws: QuantityError.self) { try Quantity.parse("-500m") }
    }

    @Test func negativeValuesParseWhenAllowed() throws {
        #expect(try Quantity.parse("-1.5", for: "offset", allowNegative: true).milliValue == -1500)
        #expect(try Quantity.parse("-0", for: "cpu").milliValue == 0)
    }

    @Test func derivedUnitsRoundUp() throws {
        #expect(try Quantity.parse("500m").cores == 0.5)
        #expect(try Quantity.parse("1500m").wholeCoresRoundedUp == 2)
        #expect(try Quantity.parse("100m").wholeCoresRoundedUp == 1)
        #expect(try Quantity.parse("128Mi").bytes == 134_217_728)
        #expect(try Quantity.parse("1G").bytes == 1_000_000_000)
        #expect(try Quantity.parse("1G").mebibytesRoundedUp == 954)
        #expect(try Quantity.parse("1").mebibytesRoundedUp == 1)
        #expect(try Quantity.parse("0.5").bytes == 1)
    }

    @Test func overlongTextIsRejected() {
        let text = "1" + String(repeating: "0", count: Quantity.maxLength) + "n"
        #expect(throws: QuantityError.self) { try Quantity.parse(text) }
    }

    @Test func largestRepresentableValueParses() throws {
        #expect(try Quantity.parse("9223372036854775807m").milliValue == Int64.max)
        #expect(throws: QuantityError.self) { try Quantity.parse("9223372036854775808m") }
    }
}
