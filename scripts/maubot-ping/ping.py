"""The bench's maubot plugin: `!ping` gets `pong`, nothing else."""
from maubot import MessageEvent, Plugin
from maubot.handlers import command


class Ping(Plugin):
    @command.new("ping")
    async def ping(self, evt: MessageEvent) -> None:
        await evt.reply("pong")
