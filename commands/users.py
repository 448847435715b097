"""`flask --app webhook users …`: console accounts (create, list, set-password, set-role, disable)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from common import security
from common.runtime import services
from store import admin as admin_store
from store import audit as audit_store

users_cli = AppGroup("users", help="Manage console accounts (admin, staff, operator, approver).")


def _db():
    return services().store.db


def _clean_name(name: str) -> str:
    try:
        clean = security.clean_username(name)
    except security.NameRejected as exc:
        raise click.ClickException(f"{name!r}: {exc}") from None
    if clean in security.RESERVED_NAMES:
        raise click.ClickException(
            f"{clean} は予約された名前です（コマンドの記録に使います）。別の名前にしてください。"
        )
    return clean


def _ask_password(name: str) -> str:
    password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")
    try:
        security.check_password_policy(password, name)
    except security.PasswordRejected as exc:
        raise click.ClickException(str(exc)) from None
    return password


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(admin_store.ROLES), required=True, help="What the account may do.")
def create_cmd(name: str, role: str) -> None:
    """Create a console account; asks for the password twice (hidden).

    Names are half-width letters, digits and - _ . (stored lower case), so that two names that
    look alike are never two accounts.

    Example: flask --app webhook users create tanaka --role admin
    """
    name = _clean_name(name)
    password = _ask_password(name)
    try:
        admin_store.create_user(_db(), name, role, security.hash_password(password))
    except admin_store.UserExists:
        raise click.ClickException(f"user {name} already exists") from None
    audit_store.record(_db(), "cli", "user.create", name, {"role": role}, source="cli")
    click.echo(f"created {name} ({role})")


@users_cli.command("list")
def list_cmd() -> None:
    """List console accounts with their role.

    Example: flask --app webhook users list
    """
    for u in admin_store.list_users(_db()):
        click.echo(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'active'}")


@users_cli.command("set-password")
@click.argument("name")
def set_password_cmd(name: str) -> None:
    """Set a new password (ends the user's sessions); asks twice (hidden).

    Example: flask --app webhook users set-password tanaka
    """
    if admin_store.find_user(_db(), name) is None:
        raise click.ClickException(f"no user {name}")
    password = _ask_password(name)
    admin_store.set_password_hash(_db(), name, security.hash_password(password))
    audit_store.record(_db(), "cli", "user.password", name, None, source="cli")
    click.echo(f"password changed for {name}")


@users_cli.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(admin_store.ROLES))
def set_role_cmd(name: str, role: str) -> None:
    """Change an account's role (ends its sessions).

    Example: flask --app webhook users set-role tanaka approver
    """
    try:
        admin_store.update_user(_db(), name, role=role)
    except admin_store.UnknownUser:
        raise click.ClickException(f"no user {name}") from None
    audit_store.record(_db(), "cli", "user.update", name, {"role": role}, source="cli")
    click.echo(f"{name} is now {role}")


@users_cli.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def disable_cmd(name: str, enable: bool) -> None:
    """Disable (or re-enable) an account; its sessions end at once.

    Example: flask --app webhook users disable tanaka
    """
    try:
        admin_store.update_user(_db(), name, disabled=not enable)
    except admin_store.UnknownUser:
        raise click.ClickException(f"no user {name}") from None
    audit_store.record(_db(), "cli", "user.update", name, {"disabled": not enable}, source="cli")
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")


COMMANDS = [users_cli]
