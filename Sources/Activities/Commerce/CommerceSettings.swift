import Foundation

/// The outside services' settings, from the environment. A service with no credentials is
/// replaced by its local stand-in (`LocalPaymentGateway`, `LogNotifier`); one configured halfway
/// is an error, so a typo cannot silently send production traffic nowhere.
public struct CommerceSettings: Sendable, Hashable {
    public struct Stripe: Sendable, Hashable {
        public var apiKey: String
        public var apiBase: String
    }
    public struct Twilio: Sendable, Hashable {
        public var accountSID: String
        public var authToken: String
        public var from: String
        public var apiBase: String
    }
    public struct SendGrid: Sendable, Hashable {
        public var apiKey: String
        public var from: String
        public var apiBase: String
    }

    public var stripe: Stripe?
    /// `STRIPE_WEBHOOK_SECRET`, comma-separated: every secret verifies (rotation).
    public var webhookSecrets: [String]
    public var twilio: Twilio?
    public var sendGrid: SendGrid?
    /// Who hears about settlement discrepancies.
    public var opsEmail: String?

    public init(stripe: Stripe? = nil, webhookSecrets: [String] = [], twilio: Twilio? = nil, sendGrid: SendGrid? = nil, opsEmail: String? = nil) {
        self.stripe = stripe
        self.webhookSecrets = webhookSecrets
        self.twilio = twilio
        self.sendGrid = sendGrid
        self.opsEmail = opsEmail
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            environment[name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        func group(_ names: [String], required: [String]) throws -> [String: String]? {
            let present = names.filter { value($0) != nil }
            guard !present.isEmpty else { return nil }
            let missing = required.filter { value($0) == nil }
            guard missing.isEmpty else {
                throw Invalid(description: "\(present.joined(separator: ", ")) set but \(missing.joined(separator: ", ")) missing")
            }
            return Dictionary(uniqueKeysWithValues: names.compactMap { name in value(name).map { (name, $0) } })
        }
        if let stripe = try group(["STRIPE_API_KEY", "STRIPE_API_BASE"], required: ["STRIPE_API_KEY"]) {
            self.stripe = Stripe(apiKey: stripe["STRIPE_API_KEY"]!, apiBase: stripe["STRIPE_API_BASE"] ?? "https://api.stripe.com")
        }
        webhookSecrets = (value("STRIPE_WEBHOOK_SECRET") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let twilio = try group(["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_API_BASE"],
                                  required: ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"]) {
            self.twilio = Twilio(accountSID: twilio["TWILIO_ACCOUNT_SID"]!, authToken: twilio["TWILIO_AUTH_TOKEN"]!, from: twilio["TWILIO_FROM"]!,
                                 apiBase: twilio["TWILIO_API_BASE"] ?? "https://api.twilio.com")
        }
        if let sendGrid = try group(["SENDGRID_API_KEY", "SENDGRID_FROM", "SENDGRID_API_BASE"], required: ["SENDGRID_API_KEY", "SENDGRID_FROM"]) {
            self.sendGrid = SendGrid(apiKey: sendGrid["SENDGRID_API_KEY"]!, from: sendGrid["SENDGRID_FROM"]!,
                                     apiBase: sendGrid["SENDGRID_API_BASE"] ?? "https://api.sendgrid.com")
        }
        opsEmail = value("ORCHESTRATOR_OPS_EMAIL")
    }
}
