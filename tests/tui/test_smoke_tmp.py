import asyncio
from .conftest import settle, screen_text

def test_smoke(make_app):
    async def main():
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            for key in ["f2", "f3", "f4", "f5", "f6", "f7"]:
                await pilot.press(key)
                await settle(pilot)
                print(screen_text(app))
    asyncio.run(main())
