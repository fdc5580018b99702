"""The search index: one row per searchable key of a customer (name suffixes, pinyin, initials, phone, WeChat).

Written only by customers.search (index_professionals / index_institutions); see that module for
why the index looks like this.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from pharmacrm.customers.models.core import Institution, Professional

KEY_LENGTH = 40


class SearchKeyField(models.CharField):
    """A key compared byte by byte on both databases, so a prefix is one b-tree range.

    SQLite compares text with BINARY by default; PostgreSQL follows the database's collation,
    under which "zh" ≤ key < "zi" need not hold for every key starting "zh" — hence COLLATE "C"
    there.
    """

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class KeyField(models.TextChoices):
    NAME = "n", _("名称")
    ALIAS = "a", _("别名")
    PINYIN = "p", _("拼音")
    INITIALS = "i", _("首字母")
    MOBILE = "m", _("手机")
    WECHAT = "w", _("微信号")


class SearchKey(models.Model):
    key = SearchKeyField(max_length=KEY_LENGTH)
    field = models.CharField(max_length=1, choices=KeyField.choices)
    # True when the key is the whole value or its start (exact and prefix matches); False for a
    # suffix from inside it (substring matches), so ranking needs no string work in SQL.
    starts = models.BooleanField()

    class Meta:
        abstract = True


class ProfessionalSearchKey(SearchKey):
    professional = models.ForeignKey(Professional, models.CASCADE, related_name="search_keys")
    # The professional's institution, copied so that a scoped search walks only the keys of the
    # institutions the user may see (customers' visibility hangs off the institution).
    institution = models.ForeignKey(Institution, models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = _("医务人员搜索键")
        verbose_name_plural = _("医务人员搜索键")
        indexes = [
            # The institution rides along so that a wide scope (a region) is tested inside the index
            # while walking keys in order (customers.search._shaped_keys).
            models.Index(fields=["starts", "key", "institution"], name="prof_search_key_inst"),
            models.Index(fields=["institution", "key", "starts"], name="prof_search_scoped"),
        ]

    def __str__(self) -> str:
        return self.key


class InstitutionSearchKey(SearchKey):
    institution = models.ForeignKey(Institution, models.CASCADE, related_name="search_keys", db_index=False)

    class Meta:
        verbose_name = _("机构搜索键")
        verbose_name_plural = _("机构搜索键")
        indexes = [
            models.Index(fields=["starts", "key", "institution"], name="inst_search_key_inst"),
            models.Index(fields=["institution", "key", "starts"], name="inst_search_scoped"),
        ]

    def __str__(self) -> str:
        return self.key
