import AsyncHTTPClient
import Orchestrator

extension ActivityRegistry {
    /// The registry with every activity this package ships: the general ones (`noop`, `sleep`,
    /// `http`) and the shop's (`inventory.*`, `orders.*`, `refunds.*`, `returns.*`, `waitlist.*`, `settlement.*`, `payments.*`, `notify`, `notify.ops`).
    public static func builtins(_ environment: ActivityEnvironment) -> ActivityRegistry {
        var registry = ActivityRegistry()
        registry.register(NoopActivity())
        registry.register(SleepActivity())
        registry.register(HTTPActivity(client: environment.httpClient, allowList: environment.httpAllowList))

        let commerce = environment.commerce
        registry.register(ReserveStock())
        registry.register(CommitReservation())
        registry.register(ReleaseReservation())
        registry.register(CreateOrder())
        registry.register(RecordPayment())
        registry.register(RecordDecline())
        registry.register(CloseOrder())
        registry.register(RequestRefund())
        registry.register(RecordRefund())
        registry.register(FailRefund())
        registry.register(OpenReturn())
        registry.register(SetReturnStatus())
        registry.register(RestockReturn())
        registry.register(AddStock())
        registry.register(ClaimSubscribers())
        registry.register(MarkNotified())
        registry.register(NotifySubscriber(email: commerce.email, sms: commerce.sms))
        registry.register(FetchSettlement(gateway: commerce.gateway))
        registry.register(ReconcileSettlement())
        registry.register(NotifyOps(email: commerce.email, address: commerce.settings.opsEmail))
        registry.register(AuthorizePayment(gateway: commerce.gateway))
        registry.register(RetrievePayment(gateway: commerce.gateway))
        registry.register(CapturePayment(gateway: commerce.gateway))
        registry.register(CancelPayment(gateway: commerce.gateway))
        registry.register(RefundPayment(gateway: commerce.gateway))
        registry.register(NotifyActivity(email: commerce.email, sms: commerce.sms))
        return registry
    }
}
