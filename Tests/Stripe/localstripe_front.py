"""localstripe 1.15 for the tests, on 127.0.0.1 only, with the behaviour of Stripe it lacks.

Run: python3 Tests/Stripe/localstripe_front.py --port N

What this layer adds in front of localstripe's own app (everything else is localstripe's):
- Idempotency-Key: a POST repeated with the same key answers the first answer (status and body)
  without running again, as Stripe does for 24 hours. localstripe ignores the header.
- POST /_config/response_delay {"path": "/v1/payment_intents", "seconds": 5}: answers to POSTs on
  that path are held back that long *after* the request was carried out, so a test can kill the
  caller between Stripe doing the work and the caller learning of it.
- No state on disk: localstripe pickles its whole store to /tmp/localstripe.pickle after every
  write, which is slow and shared between concurrent test processes; here it lives in memory only.
"""
import argparse
import asyncio

from aiohttp import web

from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

_answers = {}
_locks = {}
_delays = {}


@web.middleware
async def response_delay(request, handler):
    if request.path == '/_config/response_delay':
        body = await request.json()
        _delays[body['path']] = float(body['seconds'])
        return web.json_response({'ok': True})
    response = await handler(request)
    delay = _delays.get(request.path, 0) if request.method == 'POST' else 0
    if delay:
        await asyncio.sleep(delay)
    return response


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get('Idempotency-Key')
    if request.method != 'POST' or not key:
        return await handler(request)
    scope = (request.headers.get('Authorization', ''), key)
    lock = _locks.setdefault(scope, asyncio.Lock())
    async with lock:
        if scope in _answers:
            status, body, content_type = _answers[scope]
            return web.Response(status=status, body=body, content_type=content_type,
                                headers={'Idempotent-Replayed': 'true'})
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        if response.status < 500 and response.status != 409:
            _answers[scope] = (response.status, response.body, response.content_type)
        return response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    # First, so it sees every request (and replays even localstripe's own errors, as Stripe does).
    app.middlewares.insert(0, idempotency)
    app.middlewares.insert(0, response_delay)
    web.run_app(app, host='127.0.0.1', port=args.port, access_log=None, print=None)


if __name__ == '__main__':
    main()
