from tests.fixtures.world import World


async def test_world_builds(world: World) -> None:
    assert world.users["gus"].kind == "guest"
    assert world.tenant_of("eve") != world.tenant_of("olivia")
