import AsyncHTTPClient

/// The outside services the commerce activities and routes share: the payment gateway and the
/// notifiers, real when configured, else the local stand-ins.
public struct CommerceServices: Sendable {
    public let settings: CommerceSettings
    public let gateway: any PaymentGateway
    /// Set when no Stripe key is configured: the stand-in, whose 3-D Secure a dev route completes.
    public let localGateway: LocalPaymentGateway?
    public let email: any Notifier
    public let sms: any Notifier

    public init(settings: CommerceSettings, httpClient: HTTPClient) {
        self.settings = settings
        if let stripe = settings.stripe {
            gateway = StripeClient(http: httpClient, baseURL: stripe.apiBase, apiKey: stripe.apiKey)
            localGateway = nil
        } else {
            let local = LocalPaymentGateway()
            gateway = local
            localGateway = local
        }
        email = settings.sendGrid.map { SendGridEmail(http: httpClient, baseURL: $0.apiBase, apiKey: $0.apiKey, from: $0.from) }
            ?? LogNotifier(channel: .email)
        sms = settings.twilio.map { TwilioSMS(http: httpClient, baseURL: $0.apiBase, accountSID: $0.accountSID, authToken: $0.authToken, from: $0.from) }
            ?? LogNotifier(channel: .sms)
    }
}

/// What a program's activities are built from (`OrchestratorCommand.main(activities:)`).
public struct ActivityEnvironment: Sendable {
    /// Follows no redirect by itself.
    public let httpClient: HTTPClient
    /// Where the `http` activity may connect (`ORCHESTRATOR_HTTP_ALLOW`).
    public let httpAllowList: OutboundAllowList
    public let commerce: CommerceServices

    public init(httpClient: HTTPClient, httpAllowList: OutboundAllowList, commerce: CommerceServices) {
        self.httpClient = httpClient
        self.httpAllowList = httpAllowList
        self.commerce = commerce
    }
}
