"""The pages in a real browser: headless Chromium driven by Selenium against Django's
live server (static files served as by ``runserver``).

Log in, filter a list by an index, sort, page, open an instance, edit a field,
see a uniqueness error, delete with confirmation, browse keys; screenshots of
the pages go to ``$LIMPYD_SCREENSHOTS`` (default: a temporary directory; the docs'
images are made with ``LIMPYD_SCREENSHOTS=docs/_static``).

Skipped, saying why, where Chromium, chromedriver or Selenium is missing; CI
installs them (``apt-get install -y chromium chromium-driver``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from tests.admin.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
#: where screenshots go: the docs' images only when asked (LIMPYD_SCREENSHOTS=docs/_static),
#: so that a test run leaves the checkout unchanged
SCREENSHOTS = Path(
    os.environ.get("LIMPYD_SCREENSHOTS") or os.path.join(tempfile.gettempdir(), "limpyd-shots")
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DESKTOP, PHONE = (1280, 900), (390, 844)


def find_browser() -> tuple[str, str] | str:
    """``(browser, driver)`` paths, or why there are none."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "Selenium is not installed (pip install -e '.[test]')"
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return (
            "no Chromium and chromedriver on PATH "
            "(Debian: apt-get install -y chromium chromium-driver)"
        )
    return browser, driver


def start_chromium(browser: str, driver: str, profile: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


@pytest.mark.timeout(300)
def page_left(html: Any) -> bool:
    """True once the page holding ``html`` (its root element) is gone. Chrome may
    answer a check on a node of the page being replaced with "Node with given id does
    not belong to the document" instead of a stale element: that is gone too."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        html.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


class BrowserTests(StaticLiveServerTestCase):
    """One browser for the class; each test logs in on empty databases."""

    @classmethod
    def setUpClass(cls) -> None:
        found = find_browser()
        if isinstance(found, str):
            raise unittest.SkipTest(found)
        super().setUpClass()
        cls.profile = tempfile.mkdtemp(prefix="limpyd-chromium-")
        try:
            cls.browser = start_chromium(*found, cls.profile)
        except Exception:
            shutil.rmtree(cls.profile, ignore_errors=True)
            super().tearDownClass()
            raise
        cls.browser.implicitly_wait(5)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.browser.quit()
        shutil.rmtree(cls.profile, ignore_errors=True)
        super().tearDownClass()

    def setUp(self) -> None:
        from tests.admin.library.redis_models import Author, Book

        get_user_model().objects.create_user(
            username="root", password=PASSWORD, is_staff=True, is_superuser=True
        )
        self.browser.set_window_size(*DESKTOP)
        Author(pk="tolkien", name="J. R. R. Tolkien")
        Author(pk="herbert", name="Frank Herbert")
        rows = [
            ("The Hobbit", "fantasy", "1937", "tolkien"),
            ("Dune", "sf", "1965", "herbert"),
            ("Emma", "classic", "1815", None),
            ("Foundation", "sf", "1951", None),
            ("Neuromancer", "sf", "1984", None),
            ("Beloved", "classic", "1987", None),
            ("Hyperion", "sf", "1989", None),
            ("Middlemarch", "classic", "1871", None),
        ]
        self.books = {}
        for number, (title, genre, year, author) in enumerate(rows, 1):
            values = {"title": title, "genre": genre, "year": year, "isbn": f"978-{number:04}"}
            if author:
                values["author"] = author
            self.books[title] = Book(**values)
        hobbit = self.books["The Hobbit"]
        hobbit.summary.set("There and back again.")
        hobbit.tags.sadd("classic", "dragons", "adventure")
        hobbit.chapters.rpush("An Unexpected Party", "Roast Mutton", "A Short Rest")
        hobbit.ratings.zadd({"alice": 5, "bob": 3.5, "carol": 4})
        hobbit.details.hset(
            mapping={"pages": "310", "cover": "green", "publisher": "Allen & Unwin"}
        )
        hobbit.coauthors.sadd("tolkien")

    # -- helpers --------------------------------------------------------------------

    def go(self, path: str) -> None:
        self.browser.get(self.live_server_url + path)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.browser.find_elements(By.CSS_SELECTOR, selector)

    def link(self, text: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.LINK_TEXT, text)

    def click(self, target: Any) -> None:
        """Click a link or button (an element, or a CSS selector) and wait for the next
        page."""
        from selenium.webdriver.support.ui import WebDriverWait

        html = self.css("html")
        (self.css(target) if isinstance(target, str) else target).click()
        WebDriverWait(self.browser, 10).until(lambda browser: page_left(html))

    def login(self, next_path: str = "/admin/redis/") -> None:
        self.go(f"/admin/login/?next={next_path}")
        self.css("#id_username").send_keys("root")
        self.css("#id_password").send_keys(PASSWORD)
        self.click("input[type=submit]")

    def pk_link(self, pk: str) -> Any:
        """The link of the instance ``pk`` in the list."""
        return next(a for a in self.all("#result_list th.field-pk a") if a.text == pk)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.browser.save_screenshot(str(SCREENSHOTS / f"admin-{name}.png"))

    def column(self, name: str) -> list[str]:
        return [cell.text for cell in self.all(f"#result_list .field-{name}")]

    def values(self, selector: str) -> list[str]:
        """The values of the inputs (or options) matching ``selector``."""
        return [element.get_attribute("value") for element in self.all(selector)]

    def page_width(self) -> tuple[int, int]:
        """``(document width, window width)``: the page overflows when the first is
        larger."""
        return tuple(
            self.browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"
            )
        )

    # -- tests ----------------------------------------------------------------------

    def test_index_and_key_browser(self) -> None:
        self.login()
        self.assertIn("Redis", self.browser.title)
        self.assertEqual(self.css("#library-book").text, "Books")
        row = self.css(".model-book .limpyd-number")
        self.assertEqual(row.text, "8")
        self.screenshot("index")
        self.click("#database-default a.viewlink")
        self.assertIn("Keys of the 'default' database", self.css("h1").text)
        self.css("#searchbar").send_keys("{library:Book}:")
        self.click("#limpyd-key-search input[type=submit]")
        keys = [cell.text for cell in self.all("#result_list .field-key")]
        self.assertIn("{library:Book}:h:1", keys)
        self.assertTrue(all(key.startswith("{library:Book}:") for key in keys), keys)
        self.assertEqual({cell.text for cell in self.all(".field-model")}, {"library.Book"})
        types = {cell.text for cell in self.all("#result_list .field-type")}
        self.assertEqual(types, {"string", "hash", "set", "list", "zset"})
        self.screenshot("keys")
        # glob characters are text: "*" finds no key (none has one in its name)
        search = self.css("#searchbar")
        search.clear()
        search.send_keys("{library:Book}:*")
        self.click("#limpyd-key-search input[type=submit]")
        self.assertIn("No key found", self.css("#changelist").text)

    def test_filter_sort_and_page_a_list(self) -> None:
        self.login("/admin/redis/library/book/")
        self.assertEqual(self.css("#limpyd-result-count").text, "8 books")
        # five per page, sorted by title (BookAdmin.ordering)
        self.assertEqual(
            self.column("title"), ["Beloved", "Dune", "Emma", "Foundation", "Hyperion"]
        )
        self.click(self.css(".paginator").find_element("link text", "2"))
        self.assertEqual(self.column("title"), ["Middlemarch", "Neuromancer", "The Hobbit"])
        # filter by the genre index: a choice of the EqualIndex
        self.click(self.css('ul[data-param="genre"]').find_element("link text", "sf (4)"))
        self.assertEqual(self.css("#limpyd-result-count").text, "4 of 8 books")
        self.assertEqual(self.column("title"), ["Dune", "Foundation", "Hyperion", "Neuromancer"])
        # and by the number range index of year, typed in the sidebar
        self.css('details[data-filter-title="year"] summary').click()  # folded: unused
        self.css("#filter-year__gte").send_keys("1960")
        self.click("#limpyd-filter-form input[type=submit]")
        self.assertNotIn("year__gt=&", self.browser.current_url)
        self.assertEqual(self.column("title"), ["Dune", "Hyperion", "Neuromancer"])
        # sort by year (numbers), then descending
        self.click("th.column-year .text a")
        self.assertEqual(self.column("year"), ["1965", "1984", "1989"])
        self.click("th.column-year .toggle")
        self.assertEqual(self.column("year"), ["1989", "1984", "1965"])
        self.screenshot("changelist")
        # the search box: a startswith of the title's text range index
        search = self.css("#searchbar")
        search.send_keys("Hy")
        self.click("#changelist-search input[type=submit]")
        self.assertEqual(self.column("title"), ["Hyperion"])
        self.click(self.link("✖ Clear all filters"))
        self.assertEqual(self.css("#limpyd-result-count").text, "8 books")
        # a phone
        self.browser.set_window_size(*PHONE)
        self.go("/admin/redis/library/book/?genre=classic")
        self.screenshot("changelist-phone")

    def test_open_edit_see_uniqueness_error_and_save(self) -> None:
        self.login("/admin/redis/library/book/?_o=pk")
        self.click(self.pk_link("1"))
        self.assertEqual(self.css("#id_title").get_attribute("value"), "The Hobbit")
        # every field, in the widget of its type
        self.assertEqual(self.values(".field-tags input[name=tags]")[0], "adventure")
        self.assertEqual(
            self.values(".field-chapters input[name=chapters]"),
            ["An Unexpected Party", "Roast Mutton", "A Short Rest", ""],
        )
        self.assertEqual(self.values("input[name=ratings__score]")[0], "3.5")
        self.assertEqual(self.values("input[name=details]")[0], "cover")
        self.assertEqual(self.values("select[name=coauthors] option:checked"), ["tolkien"])
        title = self.css("#id_title")
        title.clear()
        title.send_keys("Dune")
        self.click("input[name=_continue]")
        self.assertIn(
            "Book with this title already exists.", self.css(".field-title .errorlist").text
        )
        self.assertEqual(self.css("#id_title").get_attribute("value"), "Dune")
        self.screenshot("change-unique-error")
        title = self.css("#id_title")
        title.clear()
        title.send_keys("The Hobbit, or There and Back Again")
        year = self.css("#id_year")
        year.clear()
        year.send_keys("not a year")
        self.click("input[name=_continue]")
        self.assertIn("Enter a number", self.css(".field-year .errorlist").text)
        year = self.css("#id_year")
        year.clear()
        year.send_keys("1938")
        self.click("input[name=_continue]")
        self.assertIn("was changed successfully", self.css(".messagelist").text)
        book = self.books["The Hobbit"]
        self.assertEqual(book.title.hget(), "The Hobbit, or There and Back Again")
        self.assertEqual(book.year.get(), "1938")
        # the related field links to the author
        self.click(".field-author .help a")
        self.assertEqual(self.css(".field-pk .readonly").text, "tolkien")

    def test_delete_with_confirmation(self) -> None:
        from tests.admin.library.redis_models import Book

        self.login("/admin/redis/library/book/")
        self.click(self.pk_link("3"))
        self.click(self.link("Delete"))
        self.assertIn("Are you sure", self.css("#content").text)
        keys = [item.text for item in self.all("#deleted-objects code")]
        self.assertIn("{library:Book}:h:3", keys)
        self.click("#content form input[type=submit]")  # "Yes, I'm sure"
        self.assertIn("was deleted successfully", self.css(".messagelist").text)
        self.assertFalse(Book.exists(3))
        self.assertEqual(self.css("#limpyd-result-count").text, "7 books")
        # the delete action: select two rows, confirm
        for box in self.all("#result_list input.action-select")[:2]:
            box.click()
        from selenium.webdriver.support.ui import Select

        Select(self.css("select[name=action]")).select_by_value("delete_selected")
        self.click("button[name=index]")
        self.assertEqual(len(self.all("#deleted-objects > li")), 2)
        self.click("#content form input[type=submit]")  # "Yes, I'm sure"
        self.assertIn("Successfully deleted 2 books.", self.css(".messagelist").text)
        self.assertEqual(Book.collection().count(), 5)

    def test_edit_each_multi_value_type(self) -> None:
        self.login("/admin/redis/library/book/1/change/")
        # a set: add a member with "Add a row", remove one
        tags = self.css(".field-tags .limpyd-rows")
        tags.find_element("css selector", ".limpyd-add-row").click()
        new_inputs = tags.find_elements("css selector", "input[name=tags]")
        self.assertEqual(len(new_inputs), 5)  # 3 members, the blank row, the added one
        new_inputs[3].send_keys("hobbits")
        new_inputs[4].send_keys("wizards")
        tags.find_element("css selector", "input[name=tags__remove][value='1']").click()
        # a list: move the last item up twice (positions follow), add one
        chapters = self.css(".field-chapters .limpyd-rows")
        rows = chapters.find_elements("css selector", "tbody tr")
        rows[2].find_element("css selector", ".limpyd-up").click()
        rows = chapters.find_elements("css selector", "tbody tr")
        rows[1].find_element("css selector", ".limpyd-up").click()
        self.assertEqual(
            self.values(".field-chapters input[name=chapters]"),
            ["A Short Rest", "An Unexpected Party", "Roast Mutton", ""],
        )
        self.assertEqual(self.values("input[name=chapters__order]"), ["1", "2", "3", "4"])
        self.all(".field-chapters input[name=chapters]")[3].send_keys("Over Hill")
        # a sorted set: a member with a bad score first
        self.all("input[name=ratings]")[3].send_keys("dave")
        self.all("input[name=ratings__score]")[3].send_keys("lots")
        # a hash: change a value, add an entry
        self.all("input[name=details__value]")[0].clear()
        self.all("input[name=details__value]")[0].send_keys("red")
        self.all("input[name=details]")[3].send_keys("lang")
        self.all("input[name=details__value]")[3].send_keys("en")
        # the picture of the docs: the multi-value fields, whole
        self.browser.set_window_size(DESKTOP[0], 1500)
        self.browser.execute_script(
            "document.getElementById('fieldset-multi-heading').scrollIntoView();"
        )
        self.screenshot("change-multivalue")
        self.browser.set_window_size(*DESKTOP)
        self.click("input[name=_continue]")
        self.assertIn(
            "Row 4: the score “lots” of “dave” is not a number.",
            self.css(".field-ratings .errorlist").text,
        )
        self.browser.execute_script("document.querySelector('.field-ratings').scrollIntoView();")
        self.screenshot("change-multivalue-error")
        book = self.books["The Hobbit"]
        self.assertEqual(book.tags.smembers(), {"classic", "dragons", "adventure"})  # unwritten
        # what was typed is kept: fix the score and save
        score = self.all("input[name=ratings__score]")[3]
        score.clear()
        score.send_keys("4.5")
        self.click("input[name=_continue]")
        self.assertIn("was changed successfully", self.css(".messagelist").text)
        self.assertEqual(book.tags.smembers(), {"adventure", "dragons", "hobbits", "wizards"})
        self.assertEqual(
            book.chapters.lrange(0, -1),
            ["A Short Rest", "An Unexpected Party", "Roast Mutton", "Over Hill"],
        )
        self.assertEqual(book.ratings.zscore("dave"), 4.5)
        self.assertEqual(
            book.details.hgetall(),
            {"pages": "310", "cover": "red", "publisher": "Allen & Unwin", "lang": "en"},
        )
        # the History page lists the change
        self.click("a.historylink")
        self.assertIn(
            "Changed tags, chapters, ratings and details.", self.css("#change-history").text
        )
        self.screenshot("history")

    def test_lookup_popup_of_a_raw_id_input(self) -> None:
        from tests.admin.library.admin import BookAdmin

        BookAdmin.related_select_max = 1  # two authors: a raw-id input
        self.addCleanup(delattr, BookAdmin, "related_select_max")
        self.login("/admin/redis/library/book/2/change/")
        main = self.browser.current_window_handle
        self.css("#lookup_id_author").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.browser, 10).until(lambda browser: len(browser.window_handles) == 2)
        popup = next(handle for handle in self.browser.window_handles if handle != main)
        self.browser.switch_to.window(popup)
        self.css('a[data-popup-opener="tolkien"]').click()
        WebDriverWait(self.browser, 10).until(lambda browser: len(browser.window_handles) == 1)
        self.browser.switch_to.window(main)
        self.assertEqual(self.css("#id_author").get_attribute("value"), "tolkien")
        self.click("input[name=_continue]")
        self.assertEqual(self.books["Dune"].author.hget(), "tolkien")

    def test_select_all_of_the_action_bar(self) -> None:
        self.login("/admin/redis/library/book/")
        self.assertEqual(self.css(".action-counter").text, "0 of 5 selected")
        self.css("#action-toggle").click()
        self.assertEqual(self.css(".action-counter").text, "5 of 5 selected")
        self.css(".actions .question a").click()
        self.assertEqual(self.css(".actions .all").text, "All 8 selected")

    def test_phone_pages_do_not_overflow(self) -> None:
        self.login()
        self.browser.set_window_size(*PHONE)
        self.go("/admin/redis/")
        width, window = self.page_width()
        self.assertLessEqual(width, window, "the index overflows")
        self.screenshot("index-phone")
        self.go("/admin/redis/-/keys/default/?q={library:Book}:")
        width, window = self.page_width()
        self.assertLessEqual(width, window, "the key browser overflows")
        self.screenshot("keys-phone")
        self.go("/admin/redis/library/book/1/change/")
        width, window = self.page_width()
        self.assertLessEqual(width, window, "the change page overflows")
        self.screenshot("change-phone")
